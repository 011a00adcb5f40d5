"""`kyverno-policy --attestations`: the vuln attestation conditions, checked against Kyverno's own
ClusterPolicy schema (the CRD of kyverno v1.19.1, put in the cache by scripts/go-tools.sh
kyverno-crd), and the conditions' JMESPath evaluated on real predicates."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jmespath  # type: ignore[import-untyped]
import jsonschema
import pytest
import yaml

from k1s0_action.attestation import GateRecord, RunIdentity, ScanEvidence, vuln_predicate
from k1s0_action.cli import main
from k1s0_action.harbor import parse_reports
from k1s0_action.kyverno import (
    BLOCKING_FINDINGS,
    RECORDED_ALLOWED,
    VULN_PREDICATE_TYPE,
    PolicyRequest,
    cluster_policy,
    render_policy,
    with_attestations,
)
from k1s0_action.oidc import repository_identity_regexp
from k1s0_action.policy import Allowlist, PolicyConfig, decide
from k1s0_stack.process import CACHE
from tests.action.unit.test_attestation import captured

CRD = CACHE / "share/kyverno/kyverno.io_clusterpolicies-v1.19.1.yaml"
REQUEST = PolicyRequest(
    registry="harbor.internal.example.com",
    project_prefix="k1s0",
    issuer="https://token.actions.githubusercontent.com",
    identity_regexp=repository_identity_regexp("k1s0-org/k1s0"),
    attestations=True,
    max_scan_age_hours=72,
)


def _strict(node: Any) -> None:
    """kubectl's strict field validation: an object schema with properties rejects other keys."""
    if isinstance(node, dict):
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)


@cache
def kyverno_schema() -> dict[str, Any]:
    assert CRD.exists(), f"{CRD} is missing: run scripts/go-tools.sh kyverno-crd"
    crd = yaml.safe_load(CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema: dict[str, Any] = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    _strict(schema)
    # metadata is Kubernetes' ObjectMeta, which the CRD leaves open.
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


def rendered(request: PolicyRequest) -> dict[str, Any]:
    policy: dict[str, Any] = yaml.safe_load(render_policy(request))
    return policy


@pytest.mark.parametrize("attestations", [False, True])
def test_the_policy_is_a_valid_kyverno_cluster_policy(attestations: bool) -> None:
    policy = rendered(PolicyRequest(**{**REQUEST.__dict__, "attestations": attestations}))
    jsonschema.validate(policy, kyverno_schema())


def test_kyverno_schema_rejects_a_misspelt_condition() -> None:
    policy = rendered(REQUEST)
    entry = policy["spec"]["rules"][0]["verifyImages"][0]["attestations"][0]
    entry["conditions"][0]["all"][0]["operator"] = "DurationAtMost"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(policy, kyverno_schema())
    entry["conditions"][0]["all"][0]["operater"] = "Equals"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(policy, kyverno_schema())


def test_the_attestation_is_the_vuln_predicate_from_the_same_identity() -> None:
    policy = rendered(REQUEST)
    verify = policy["spec"]["rules"][0]["verifyImages"][0]
    attestation = verify["attestations"][0]
    assert attestation["type"] == VULN_PREDICATE_TYPE
    assert attestation["attestors"] == verify["attestors"]
    conditions = attestation["conditions"][0]["all"]
    assert conditions[0]["value"] == "72h"
    assert conditions[0]["operator"] == "DurationLessThanOrEquals"
    assert "metadata.scanFinishedOn" in conditions[0]["key"]
    assert (conditions[1]["key"], conditions[1]["operator"], conditions[1]["value"]) == (
        BLOCKING_FINDINGS,
        "AllIn",
        RECORDED_ALLOWED,
    )
    assert (
        "attestations"
        not in with_attestations(
            cluster_policy(REQUEST), PolicyRequest(**{**REQUEST.__dict__, "attestations": False})
        )["spec"]["rules"][0]["verifyImages"][0]
    )


def expression(template: str) -> str:
    return template.removeprefix("{{ ").removesuffix(" }}")


@pytest.mark.parametrize(
    ("allowed", "outside"),
    [({"CVE-2099-0001"}, []), (set(), ["CVE-2099-0001"])],
)
def test_the_conditions_read_the_predicate_as_attestation_py_writes_it(
    allowed: set[str], outside: list[str]
) -> None:
    body = captured("vulns_success_critical_medium.http")
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    decision = decide(
        parse_reports(body).findings(),
        Allowlist("project k1s0-system", frozenset(allowed)),
        PolicyConfig(frozenset({"critical", "high"})),
        now,
    )
    predicate = vuln_predicate(
        ScanEvidence(tuple(body.items()), now, now),
        GateRecord("passed", ("critical", "high"), (), decision),
        RunIdentity("", ""),
    )
    blocking = jmespath.search(expression(BLOCKING_FINDINGS), predicate)
    recorded = jmespath.search(expression(RECORDED_ALLOWED), predicate)
    assert blocking == ["CVE-2099-0001"]  # the Critical one; the Medium is not listed
    assert [cve for cve in blocking if cve not in recorded] == outside
    assert jmespath.search("metadata.scanFinishedOn", predicate) == "2026-12-01T15:00:00Z"


def test_cli_kyverno_policy_attestations(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"INPUT_REGISTRY": "harbor.internal.example.com"}
    args = ["kyverno-policy", "--repository=k1s0-org/k1s0", "--attestations"]
    assert main([*args, "--max-scan-age=3d"], env) == 0
    policy = yaml.safe_load(capsys.readouterr().out)
    entry = policy["spec"]["rules"][0]["verifyImages"][0]["attestations"][0]
    assert entry["conditions"][0]["all"][0]["value"] == "72h"
    jsonschema.validate(policy, kyverno_schema())
    assert main([*args, "--max-scan-age=soon"], env) == 2
