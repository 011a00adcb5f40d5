"""The Kyverno ClusterPolicy that admits only images signed by the organisation's workflow (G4).

Pure: it renders the same issuer and identity that `cosign verify` checks, as a verifyImages rule
with a keyless attestor, for every Harbor project `<registry>/<prefix>-*`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class PolicyRequest:
    registry: str
    project_prefix: str
    issuer: str
    identity_regexp: str
    workflow_repository: str = ""
    name: str = "k1s0-verify-image-signatures"
    rekor_url: str = "https://rekor.sigstore.dev"
    ignore_tlog: bool = False
    ignore_sct: bool = False
    # `--attestations`: also require the gate's vuln attestation (issue 14).
    attestations: bool = False
    max_scan_age_hours: int = 168

    @property
    def image_pattern(self) -> str:
        return f"{self.registry}/{self.project_prefix}-*/*"


def keyless_attestor(request: PolicyRequest) -> dict[str, Any]:
    keyless: dict[str, Any] = {
        "issuer": request.issuer,
        "subjectRegExp": request.identity_regexp,
        "rekor": {"url": request.rekor_url},
    }
    if request.ignore_tlog:
        keyless["rekor"]["ignoreTlog"] = True
    if request.ignore_sct:
        keyless["ctlog"] = {"ignoreSCT": True}
    if request.workflow_repository:
        keyless["additionalExtensions"] = {"githubWorkflowRepository": request.workflow_repository}
    return {"keyless": keyless}


VULN_PREDICATE_TYPE = "https://cosign.sigstore.dev/attestation/vuln/v1"
# JMESPath over the predicate (attestation.py): Harbor's findings at Critical or High, and what
# the gate recorded as allowed (project/system allowlist or ignore-cves).
BLOCKING_FINDINGS = (
    "{{ scanner.result.findings[?severity == 'Critical' || severity == 'High'].id }}"
)
RECORDED_ALLOWED = "{{ scanner.result.gate.allowed }}"


def vuln_attestation(request: PolicyRequest) -> dict[str, Any]:
    """The vuln predicate must be there, signed by the same identity, list no Critical/High
    finding outside the recorded allowlist, and come from a scan that finished recently."""
    return {
        "type": VULN_PREDICATE_TYPE,
        "attestors": [{"count": 1, "entries": [keyless_attestor(request)]}],
        "conditions": [
            {
                "all": [
                    {
                        "key": "{{ time_since('', '{{ metadata.scanFinishedOn }}', '') }}",
                        "operator": "DurationLessThanOrEquals",
                        "value": f"{request.max_scan_age_hours}h",
                        "message": (
                            f"the scan is older than {request.max_scan_age_hours}h: rescan "
                            "and re-attest"
                        ),
                    },
                    {
                        "key": BLOCKING_FINDINGS,
                        "operator": "AllIn",
                        "value": RECORDED_ALLOWED,
                        "message": "Critical/High findings outside the recorded allowlist",
                    },
                ]
            }
        ],
    }


def cluster_policy(request: PolicyRequest) -> dict[str, Any]:
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": request.name,
            "annotations": {
                "policies.kyverno.io/title": "Verify k1s0 image signatures",
                "policies.kyverno.io/description": (
                    f"Admit images from {request.image_pattern} only when their digest carries a "
                    f"keyless cosign signature from {request.identity_regexp} "
                    f"issued by {request.issuer}."
                ),
            },
        },
        "spec": {
            "webhookTimeoutSeconds": 30,
            "background": False,
            "rules": [
                {
                    "name": "verify-signature",
                    "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                    "verifyImages": [
                        {
                            "imageReferences": [request.image_pattern],
                            "failureAction": "Enforce",
                            "type": "Cosign",
                            "mutateDigest": True,
                            "verifyDigest": True,
                            "required": True,
                            "attestors": [{"count": 1, "entries": [keyless_attestor(request)]}],
                        }
                    ],
                }
            ],
        },
    }


def with_attestations(policy: dict[str, Any], request: PolicyRequest) -> dict[str, Any]:
    if request.attestations:
        policy["spec"]["rules"][0]["verifyImages"][0]["attestations"] = [vuln_attestation(request)]
    return policy


def render_policy(request: PolicyRequest) -> str:
    policy = with_attestations(cluster_policy(request), request)
    return yaml.safe_dump(policy, sort_keys=False, width=1000)
