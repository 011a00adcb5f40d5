"""The gate's verdict from Harbor's answers (`gate.judge`, no I/O), one row per shape Harbor
(or something pretending to be it) has been seen to send: each must pass only when the rule
in the README says so, and fail closed otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from k1s0_action.evidence import NATIVE_MIME, REPORT_MIME
from k1s0_action.gate import GateSettings, judge
from k1s0_action.harbor import parse_allowlist, parse_overview, parse_project, parse_reports
from k1s0_action.scanreport import Verdict

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SETTINGS = GateSettings(600, ("critical", "high"), (), "fail")
CRITICAL = {
    "id": "CVE-2099-0001",
    "package": "musl",
    "version": "1.2.3-r4",
    "fix_version": "1.2.4-r0",
    "severity": "Critical",
}
MEDIUM = {**CRITICAL, "id": "CVE-2099-0002", "severity": "Medium"}


def success(
    severity: str | None = "Critical",
    summary: object = "default",
    mime: str = REPORT_MIME,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"scan_status": "Success", "report_id": "r"}
    if severity is not None:
        entry["severity"] = severity
    if summary == "default":
        summary = {"total": 2, "fixable": 2, "summary": {"Critical": 1, "Medium": 1}}
    if summary != "absent":
        entry["summary"] = summary
    return {mime: entry}


def report(*items: Mapping[str, Any], mime: str = REPORT_MIME) -> dict[str, Any]:
    return {mime: {"severity": "Critical", "vulnerabilities": list(items)}}


def project(metadata: Mapping[str, str] | None = None, **allowlist: object) -> dict[str, Any]:
    return {
        "project_id": 2,
        "name": "k1s0-system",
        "metadata": {"auto_scan": "true", **(metadata or {})},
        "cve_allowlist": {"items": [], **allowlist},
    }


def verdict(
    overview: Mapping[str, Any],
    report_body: Mapping[str, Any],
    project_body: Mapping[str, Any] | None = None,
    system: Mapping[str, Any] | None = None,
    settings: GateSettings = SETTINGS,
) -> tuple[Verdict, str]:
    result = judge(
        parse_project(project_body or project()),
        parse_allowlist(system or {"items": []}, "system"),
        parse_overview(overview),
        False,
        parse_reports(report_body),
        settings,
        NOW,
    )
    return result.verdict, result.note


OWN_LIST: dict[str, Any] = {"items": [{"cve_id": "CVE-2099-0001"}]}


@pytest.mark.parametrize(
    ("overview", "report_body", "project_body", "system", "expected", "why"),
    [
        (success(), report(CRITICAL, MEDIUM), None, None, Verdict.BLOCKED, "CVE-2099-0001"),
        (
            success("None", {"total": 0, "fixable": 0, "summary": {}}),
            report(),
            None,
            None,
            Verdict.PASSED,
            "",
        ),
        # The project's own list names the Critical, but without the reuse key Harbor uses the
        # system list (project.go ReuseSysCVEAllowlist) - the promoted-onto-412 bug.
        (success(), report(CRITICAL, MEDIUM), project(**OWN_LIST), None, Verdict.BLOCKED, ""),
        (
            success(),
            report(CRITICAL, MEDIUM),
            project({"reuse_sys_cve_allowlist": "false"}, **OWN_LIST),
            None,
            Verdict.PASSED,
            "",
        ),
        (success(), report(CRITICAL, MEDIUM), None, OWN_LIST, Verdict.PASSED, ""),
        (
            success(),
            report(CRITICAL, MEDIUM),
            project({"reuse_sys_cve_allowlist": "false"}, **OWN_LIST, expires_at=0),
            None,
            Verdict.BLOCKED,
            "expired",
        ),
        (
            success(),
            report(CRITICAL, MEDIUM),
            None,
            {**OWN_LIST, "expires_at": -1},
            Verdict.BLOCKED,
            "",
        ),
        (
            success(),
            report(CRITICAL, MEDIUM),
            None,
            {"items": [{"cve_id": "cve-2099-0001"}]},
            Verdict.BLOCKED,
            "",
        ),
        # Success overview with Critical, summary or total missing/null, report empty.
        (success("Critical", None), {}, None, None, Verdict.BLOCKED, "highest severity"),
        (success("Critical", "absent"), {}, None, None, Verdict.BLOCKED, "highest severity"),
        (
            success("Critical", None),
            {REPORT_MIME: {"vulnerabilities": None}},
            None,
            None,
            Verdict.BLOCKED,
            "highest severity",
        ),
        (
            success(None, {"summary": {"High": 1}}),
            {},
            None,
            None,
            Verdict.BLOCKED,
            "by severity",
        ),
        (
            success(None, {"total": None, "summary": {"Critical": 1}}),
            report(),
            None,
            None,
            Verdict.BLOCKED,
            "by severity",
        ),
        (success(), report(CRITICAL), None, None, Verdict.BLOCKED, "counts 2"),
        (
            success("High", {"total": 1, "summary": {"High": 1}}),
            report(MEDIUM),
            None,
            None,
            Verdict.BLOCKED,
            "highest severity",
        ),
        # A blocking finding without an id is never dropped.
        (
            success("High", {"total": 1, "summary": {"High": 1}}),
            report({**CRITICAL, "id": "", "severity": "High"}),
            None,
            None,
            Verdict.BLOCKED,
            "(no id)",
        ),
        (
            success("High", {"total": 1, "summary": {"High": 1}}),
            report({"package": "musl", "version": "1", "severity": "High"}),
            None,
            None,
            Verdict.BLOCKED,
            "(no id)",
        ),
        # Severities outside Harbor's set block; case does not matter.
        (
            success("Severe", {"total": 1, "summary": {"Severe": 1}}),
            report({**CRITICAL, "severity": "Severe"}),
            None,
            None,
            Verdict.BLOCKED,
            "unrecognised severity Severe",
        ),
        (
            success("critical", {"total": 1, "summary": {"critical": 1}}),
            report({**CRITICAL, "severity": "CRITICAL"}),
            None,
            {"items": [{"cve_id": "CVE-2099-0001"}]},
            Verdict.PASSED,
            "",
        ),
        # The native 1.0 MIME type alone (a non-Trivy scanner) is read too.
        (
            success(mime=NATIVE_MIME),
            report(CRITICAL, MEDIUM, mime=NATIVE_MIME),
            None,
            None,
            Verdict.BLOCKED,
            "CVE-2099-0001",
        ),
        # Both keys: the union of the findings.
        (
            {
                **success("Medium", {"total": 1, "summary": {"Medium": 1}}),
                **success(mime=NATIVE_MIME),
            },
            {**report(MEDIUM), **report(CRITICAL, MEDIUM, mime=NATIVE_MIME)},
            None,
            None,
            Verdict.BLOCKED,
            "CVE-2099-0001",
        ),
        # An overview for 1.1 with no report under 1.1 at all.
        (success(), report(CRITICAL, MEDIUM, mime=NATIVE_MIME), None, None, Verdict.BLOCKED, ""),
        (
            success(None, {"total": "2", "summary": {}}),
            report(),
            None,
            None,
            Verdict.BLOCKED,
            "not a count",
        ),
        (success(), {REPORT_MIME: "oops"}, None, None, Verdict.BLOCKED, "not an object"),
    ],
)
def test_verdict(
    overview: Mapping[str, Any],
    report_body: Mapping[str, Any],
    project_body: Mapping[str, Any] | None,
    system: Mapping[str, Any] | None,
    expected: Verdict,
    why: str,
) -> None:
    got, note = verdict(overview, report_body, project_body, system)
    assert got is expected, note
    assert why in note


def test_block_severities_medium_blocks_a_critical() -> None:
    settings = GateSettings(600, ("medium",), (), "fail")
    got, note = verdict(success(), report(CRITICAL, MEDIUM), settings=settings)
    assert got is Verdict.BLOCKED
    assert "2 blocking" in note


def test_unreadable_system_list_means_no_list_and_says_so() -> None:
    result = judge(
        parse_project(project()),
        None,
        parse_overview(success()),
        False,
        parse_reports(report(CRITICAL, MEDIUM)),
        SETTINGS,
        NOW,
    )
    assert result.verdict is Verdict.BLOCKED
    assert any("cannot read Harbor's system CVE allowlist" in n.message for n in result.notices)


@pytest.mark.parametrize(
    ("status", "timed_out", "on_error", "expected"),
    [
        ("Error", False, "fail", Verdict.BLOCKED),
        ("Stopped", False, "fail", Verdict.BLOCKED),
        ("Running", True, "fail", Verdict.BLOCKED),
        ("Error", False, "warn", Verdict.INCOMPLETE),
        ("Success", True, "warn", Verdict.INCOMPLETE),
    ],
)
def test_unfinished_scans_never_pass(
    status: str, timed_out: bool, on_error: str, expected: Verdict
) -> None:
    result = judge(
        parse_project(project()),
        None,
        parse_overview({REPORT_MIME: {"scan_status": status}}),
        timed_out,
        None,
        GateSettings(600, ("critical",), (), on_error),
        NOW,
    )
    assert result.verdict is expected
    assert result.decision is None
    assert bool(result.warnings) is (expected is Verdict.INCOMPLETE)


def test_warnings_and_notices_are_data() -> None:
    settings = GateSettings(600, ("critical",), ("CVE-2099-0001",), "fail")
    result = judge(
        parse_project(project()),
        None,
        parse_overview(success()),
        False,
        parse_reports(report(CRITICAL, MEDIUM)),
        settings,
        NOW,
    )
    assert result.verdict is Verdict.PASSED
    assert [w.title for w in result.warnings] == ["Medium vulnerability"]
    assert ("CVE ignored", "CVE-2099-0001 allowed for this run by the ignore-cves input") in [
        (n.title, n.message) for n in result.notices
    ]
