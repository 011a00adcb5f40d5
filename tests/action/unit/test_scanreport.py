"""The job summary and SARIF rendering of the scan gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from k1s0_action.policy import Allowlist, Finding, PolicyConfig, decide
from k1s0_action.scanreport import ScanReport, Verdict, artifact_url, markdown, sarif

NOW = datetime(2026, 11, 28, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64


def report(findings: list[Finding], verdict: Verdict, **extra: object) -> ScanReport:
    decision = decide(
        findings,
        Allowlist("project p", frozenset({"CVE-A"})),
        PolicyConfig(frozenset({"critical", "high"}), frozenset({"CVE-I"})),
        NOW,
    )
    return ScanReport(
        image="h/p/svc",
        digest=DIGEST,
        scan_status="Success",
        verdict=verdict,
        decision=decision,
        artifact_url="http://h/harbor/projects/3/repositories/svc/artifacts-tab/artifacts/"
        + DIGEST,
        **extra,  # type: ignore[arg-type]
    )


FINDINGS = [
    Finding("CVE-C", "openssl", "1.0", "1.1", "critical", links=("https://x/CVE-C",)),
    Finding("CVE-M", "zlib", "1.2", "", "medium"),
    Finding("CVE-L", "musl", "1.2", "1.3", "low"),
    Finding("CVE-A", "curl", "7", "8", "high"),
    Finding("CVE-I", "busybox", "1", "2", "high"),
]


@pytest.mark.parametrize(
    ("repository", "expected"),
    [("svc", "/repositories/svc/"), ("team/svc", "/repositories/team%2Fsvc/")],
)
def test_artifact_url(repository: str, expected: str) -> None:
    url = artifact_url("http://h:8080/", 7, repository, DIGEST)
    assert url.startswith("http://h:8080/harbor/projects/7/")
    assert expected in url
    assert url.endswith(f"/artifacts-tab/artifacts/{DIGEST}")


def test_markdown_has_verdict_counts_findings_and_links() -> None:
    text = markdown(
        report(FINDINGS, Verdict.BLOCKED, promoted=(), withheld=(("latest", "blocked"),))
    )
    assert "⛔ blocked" in text
    assert "| Critical | 1 | 0 | 1 |" in text
    assert "| High | 2 | 2 | 0 |" in text
    assert "| Medium | 1 | 0 | 0 |" in text
    assert "[CVE-C](https://x/CVE-C) | openssl | 1.0 | 1.1 | Critical | blocking |" in text
    assert "CVE-M) | zlib | 1.2 | - | Medium | warning |" in text
    assert "CVE-L" not in text.split("Allowed:")[0].split("| Vulnerability")[-1]
    assert "`CVE-I` allowed for this run by the `ignore-cves` input" in text
    assert f"`h/p/svc@{DIGEST}`" in text
    assert "[artifact](http://h/harbor/projects/3/" in text
    assert "| Promoted | nothing |" in text
    assert "| Not promoted | `latest`: blocked |" in text


def test_markdown_notes_an_expired_allowlist() -> None:
    decision = decide(
        [Finding("CVE-A", "p", "1", "2", "high")],
        Allowlist("project p", frozenset({"CVE-A"}), int((NOW - timedelta(days=1)).timestamp())),
        PolicyConfig(frozenset({"high"})),
        NOW,
    )
    text = markdown(
        ScanReport("i", DIGEST, "Success", Verdict.BLOCKED, decision, "u", promoted=("1.0.0",))
    )
    assert "allowlist expired at 2026-11-27" in text
    assert "| Promoted | `1.0.0` |" in text


def test_markdown_without_a_scan_result() -> None:
    text = markdown(
        ScanReport("i", DIGEST, "Error", Verdict.INCOMPLETE, None, "u", note="scan failed")
    )
    assert "scan incomplete" in text
    assert "scan failed" in text
    assert "| Severity |" not in text


def test_sarif_is_2_1_0_with_levels_rules_and_suppressions() -> None:
    doc = sarif(report(FINDINGS, Verdict.BLOCKED), "services/svc/Dockerfile")
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {
        "CVE-C": "error",
        "CVE-M": "warning",
        "CVE-L": "note",
        "CVE-A": "note",
        "CVE-I": "note",
    }
    suppressed = {r["ruleId"] for r in run["results"] if "suppressions" in r}
    assert suppressed == {"CVE-A", "CVE-I"}
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert sorted(rule_ids) == sorted(levels)
    location = run["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "services/svc/Dockerfile"
    assert all(
        float(r["properties"]["security-severity"]) >= 0 for r in run["tool"]["driver"]["rules"]
    )


def test_markdown_names_each_defect_and_an_unrecognised_severity() -> None:
    decision = decide(
        [Finding("CVE-X", "p", "1", "", "unrecognised", reported_severity="Severe")],
        None,
        PolicyConfig(frozenset({"high"})),
        NOW,
        defects=("scan overview (1.1) counts 3 vulnerabilities, the report (1.1) lists 1",),
    )
    text = markdown(ScanReport("i", DIGEST, "Success", Verdict.BLOCKED, decision, "u"))
    assert "> Failing closed: scan overview (1.1) counts 3 vulnerabilities" in text
    assert "| Unrecognised (Severe) | blocking |" in text
