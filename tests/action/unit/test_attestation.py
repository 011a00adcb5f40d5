"""The vuln predicate built from Harbor's real report (v2.15.2 capture) and the gate's decision:
valid against cosign's predicate (its Go struct as a schema, tests/stack/contract/), carrying the
scanner, the times, Harbor's findings unchanged and the decision; and the checks `verify
--attestations` makes on a predicate read back."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from k1s0_action.attest import (
    Attestation,
    AttestResult,
    attest_argv,
    attestation_reference,
    newest_predicate,
    parse_kinds,
    statements,
    verify_attestation_argv,
)
from k1s0_action.attestation import (
    VULN_PREDICATE_TYPE,
    GateRecord,
    RunIdentity,
    ScanEvidence,
    parse_age,
    vuln_predicate,
    vuln_problems,
)
from k1s0_action.harbor import parse_reports
from k1s0_action.policy import Allowlist, PolicyConfig, decide
from k1s0_action.sbom import sbom_kind
from k1s0_action.signing import SigstoreConfig, VerifyPolicy

CAPTURES = (
    Path(
        os.environ.get("K1S0_HARBOR_SPEC")
        or Path(__file__).resolve().parents[4] / "shared/harbor/openapi3-v2.15.2.yaml"
    ).parent
    / "captures-v2.15.2"
)
SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2] / "stack/contract/cosign_vuln_predicate.schema.json"
    ).read_text()
)
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
STARTED = datetime(2026, 12, 1, 14, 8, 11, tzinfo=UTC)
FINISHED = datetime(2026, 12, 1, 14, 8, 13, tzinfo=UTC)
DIGEST = "sha256:" + "7d" * 32
IMAGE = f"127.0.0.1:5000/k1s0-system/demo@{DIGEST}"
RUN = RunIdentity("https://github.com/k1s0-org/k1s0/actions/runs/77", "77")


def captured(name: str) -> Any:
    text = (CAPTURES / name).read_text(encoding="utf-8")
    return json.loads(text.split("### RESPONSE BODY", 1)[1])


def predicate(
    allow: frozenset[str] = frozenset({"CVE-2099-0001"}),
    ignore: tuple[str, ...] = (),
    severities: tuple[str, ...] = ("critical", "high"),
) -> dict[str, Any]:
    body = captured("vulns_success_critical_medium.http")
    decision = decide(
        parse_reports(body).findings(),
        Allowlist("project k1s0-system", allow),
        PolicyConfig(frozenset(severities), frozenset(ignore)),
        NOW,
    )
    evidence = ScanEvidence(
        reports=tuple((mime, entry) for mime, entry in body.items()),
        started=STARTED,
        finished=FINISHED,
    )
    verdict = "passed" if decision.passed else "blocked"
    return vuln_predicate(evidence, GateRecord(verdict, severities, ignore, decision), RUN)


def test_the_predicate_is_cosigns_vuln_predicate() -> None:
    jsonschema.validate(predicate(), SCHEMA)


@pytest.mark.parametrize(
    "broken",
    [
        {"metadata": {"scanStartedOn": "2026-12-01 14:08", "scanFinishedOn": "x"}},
        {"scanner": {"uri": 1, "version": "", "db": {}, "result": {}}},
        {"invocation": {"event_id": 77}},
    ],
)
def test_the_schema_rejects_what_cosign_cannot_unmarshal(broken: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**predicate(), **broken}, SCHEMA)


def test_the_predicate_carries_scanner_times_findings_and_decision() -> None:
    made = predicate()
    scanner = made["scanner"]
    assert scanner["uri"] == "pkg:github/aquasecurity/trivy"
    assert scanner["version"] == "Unknown"  # what Harbor v2.15.2's Trivy adapter reports
    assert scanner["result"]["scanner"]["vendor"] == "Aqua Security"
    assert made["metadata"] == {
        "scanStartedOn": "2026-12-01T14:08:11Z",
        "scanFinishedOn": "2026-12-01T14:08:13Z",
    }
    body = captured("vulns_success_critical_medium.http")
    harbor_items = next(iter(body.values()))["vulnerabilities"]
    assert scanner["result"]["findings"] == harbor_items  # unchanged, vendor attributes and all
    assert scanner["result"]["reports"] == body
    gate = scanner["result"]["gate"]
    assert gate["verdict"] == "passed"
    assert gate["blockedSeverities"] == ["Critical", "High"]
    assert gate["allowed"] == ["CVE-2099-0001"]
    assert gate["allowlistEntriesUsed"][0]["reason"] == "project k1s0-system CVE allowlist"
    assert gate["blocking"] == []
    assert made["invocation"]["parameters"] == {
        "block-severities": ["critical", "high"],
        "ignore-cves": [],
    }
    assert made["invocation"]["uri"] == RUN.uri


def test_ignore_cves_used_are_recorded() -> None:
    gate = predicate(allow=frozenset(), ignore=("CVE-2099-0001",))["scanner"]["result"]["gate"]
    assert gate["ignoreCvesUsed"] == ["CVE-2099-0001"]
    assert gate["allowlistEntriesUsed"][0]["reason"] == "ignore-cves input"


@pytest.mark.parametrize(
    ("made", "now", "max_age", "problem"),
    [
        (predicate(), NOW, timedelta(days=7), ""),
        (predicate(), NOW + timedelta(days=8), timedelta(days=7), "older than the allowed 7.0d"),
        (predicate(), NOW + timedelta(days=8), None, ""),
        (predicate(allow=frozenset()), NOW, None, "outside the recorded allowlist: CVE-2099-0001"),
        (predicate(allow=frozenset(), severities=("critical",)), NOW, None, "outside"),
        (predicate(allow=frozenset(), severities=()), NOW, None, ""),
        ({**predicate(), "metadata": {}}, NOW, None, "no scan finish time"),
        ({**predicate(), "scanner": {"result": "x"}}, NOW, None, "no gate decision"),
    ],
)
def test_a_read_back_predicate_is_checked(
    made: dict[str, Any], now: datetime, max_age: timedelta | None, problem: str
) -> None:
    problems = vuln_problems(made, now, max_age)
    if problem:
        assert problem in "; ".join(problems)
    else:
        assert problems == ()


def test_an_unrecognised_severity_outside_the_allowlist_fails() -> None:
    made = predicate()
    made["scanner"]["result"]["findings"].append({"id": "X-1", "severity": "Urgent"})
    assert "X-1" in vuln_problems(made, NOW, None)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("1w", timedelta(days=7))],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["7", "0d", "-1d", "7 days", ""])
def test_parse_age_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not an age"):
        parse_age(text)


def test_parse_kinds() -> None:
    assert parse_kinds("vuln, sbom,vuln") == ("vuln", "sbom")
    with pytest.raises(ValueError, match="provenance"):
        parse_kinds("provenance")


CONFIG = SigstoreConfig("http://fulcio", "http://rekor", "/t/root.json", False, "legacy", True)


def test_attest_argv_uses_the_signatures_settings_and_no_secret() -> None:
    argv = attest_argv("cosign", IMAGE, "vuln", "/p/vuln.json", CONFIG, "/p/token", True)
    assert argv[:2] == ["cosign", "attest"]
    for flag in (
        "--type=vuln",
        "--predicate=/p/vuln.json",
        "--fulcio-url=http://fulcio",
        "--tlog-upload=false",
        "--trusted-root=/t/root.json",
        "--identity-token=/p/token",
        "--allow-http-registry",
    ):
        assert flag in argv
    assert argv[-1] == IMAGE


def test_verify_attestation_argv_checks_the_identity() -> None:
    policy = VerifyPolicy("https://issuer", "^https://github.com/k1s0-org/")
    argv = verify_attestation_argv("cosign", IMAGE, "vuln", policy, CONFIG, False)
    assert argv[:4] == ["cosign", "verify-attestation", "--type", "vuln"]
    assert argv[argv.index("--certificate-identity-regexp") + 1] == policy.identity_regexp
    assert "--insecure-ignore-tlog=true" in argv


def test_reference_and_outputs() -> None:
    assert attestation_reference(IMAGE, "legacy").endswith(f":{DIGEST.replace(':', '-')}.att")
    result = AttestResult(
        (Attestation("vuln", VULN_PREDICATE_TYPE, "r:x.att", "cosign verify-attestation x"),),
        ("Harbor has no SBOM support",),
    )
    listed = json.loads(result.outputs()["attestations"])
    assert listed == [
        {
            "type": "vuln",
            "predicate-type": VULN_PREDICATE_TYPE,
            "reference": "r:x.att",
            "verify-command": "cosign verify-attestation x",
        }
    ]
    summary = "\n".join(result.summary_lines())
    assert "cosign verify-attestation x" in summary
    assert "Harbor has no SBOM support" in summary


def envelope(statement: dict[str, Any]) -> str:
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": payload})


def test_the_newest_statement_for_the_digest_is_read_from_cosigns_output() -> None:
    def statement(finished: str, digest: str = DIGEST) -> dict[str, Any]:
        return {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": VULN_PREDICATE_TYPE,
            "subject": [{"name": "x", "digest": {"sha256": digest.removeprefix("sha256:")}}],
            "predicate": {"metadata": {"scanFinishedOn": finished}},
        }

    output = "\n".join(
        [
            envelope(statement("2026-11-01T00:00:00Z")),
            "not json",
            envelope(statement("2026-12-01T00:00:00Z")),
            envelope(statement("2026-12-30T00:00:00Z", "sha256:" + "00" * 32)),
        ]
    )
    found = newest_predicate(statements(output), VULN_PREDICATE_TYPE, DIGEST)
    assert found == {"metadata": {"scanFinishedOn": "2026-12-01T00:00:00Z"}}
    assert newest_predicate(statements(output), "other", DIGEST) is None


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        ({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"}, "spdxjson"),
        ({"bomFormat": "CycloneDX", "specVersion": "1.6"}, "cyclonedx"),
        ({"bomFormat": "cyclonedx"}, None),
        ({"spdxVersion": 2}, None),
        ({}, None),
    ],
)
def test_the_sbom_format_decides_the_attestation_type(
    document: dict[str, Any], kind: str | None
) -> None:
    assert sbom_kind(document) == kind


def test_the_run_summary_and_outputs_list_the_attestations(tmp_path: Path) -> None:
    from k1s0_action.gha import Actions
    from k1s0_action.outcome import PushedImage, RunOutcome
    from k1s0_action.report import publish
    from k1s0_action.summary import run_summary

    attested = AttestResult(
        (
            Attestation(
                "vuln", VULN_PREDICATE_TYPE, "h/p/s:sha256-x.att", "cosign verify-attestation"
            ),
        ),
        ("Harbor at h does not generate SBOMs",),
    )
    outcome = RunOutcome(pushed=PushedImage("h/p/s", DIGEST), attestations=attested)
    text = run_summary(outcome, None)
    assert "### Attestations" in text
    assert "cosign verify-attestation" in text
    assert "does not generate SBOMs" in text
    out = tmp_path / "out"
    out.touch()
    publish(Actions({"GITHUB_OUTPUT": str(out), "GITHUB_WORKSPACE": str(tmp_path)}), outcome)
    assert "attestations<<" in out.read_text()
    assert "h/p/s:sha256-x.att" in out.read_text()
