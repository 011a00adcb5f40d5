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


def render_policy(request: PolicyRequest) -> str:
    return yaml.safe_dump(cluster_policy(request), sort_keys=False, width=1000)
