"""Parsing Harbor's response shapes (no network; the client's requests are tested against
LocalHarbor in tests/action/integration/test_harbor_client.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from k1s0_action.evidence import NATIVE_MIME, REPORT_MIME
from k1s0_action.harbor import (
    HarborResponseError,
    parse_allowlist,
    parse_artifact,
    parse_findings,
    parse_overview,
    parse_project,
    parse_reports,
    parse_sized_artifact,
)
from k1s0_action.policy import UNRECOGNISED

SUCCESS_2X = {
    REPORT_MIME: {
        "report_id": "r",
        "scan_status": "Success",
        "severity": "High",
        "duration": 3,
        "summary": {"total": 2, "fixable": 1, "summary": {"High": 1, "Low": 1}},
        "start_time": "2024-03-01T08:59:29.250Z",
        "end_time": "2024-03-01T08:59:32.000Z",
        "complete_percent": 100,
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.50"},
    }
}


@pytest.mark.parametrize(
    ("body", "status", "severity", "total", "duration"),
    [
        (SUCCESS_2X, "Success", "High", 2, 2.75),
        (
            {
                REPORT_MIME: {
                    "scan_status": "Success",
                    "severity": "None",
                    "summary": {"total": 0, "fixable": 0, "summary": {}},
                }
            },
            "Success",
            "None",
            0,
            None,
        ),
        (
            {REPORT_MIME: {"scan_status": "Running", "start_time": "2024-03-01T08:59:29Z"}},
            "Running",
            "",
            0,
            None,
        ),
        (
            {REPORT_MIME: {"scan_status": "Error", "severity": "", "summary": None}},
            "Error",
            "",
            0,
            None,
        ),
        (
            {
                "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0": {
                    "scan_status": "Pending"
                }
            },
            "Pending",
            "",
            0,
            None,
        ),
        (
            {REPORT_MIME: {"scan_status": "Stopped", "end_time": "0001-01-01T00:00:00.000Z"}},
            "Stopped",
            "",
            0,
            None,
        ),
    ],
)
def test_parse_overview_shapes(
    body: Mapping[str, Any], status: str, severity: str, total: int, duration: float | None
) -> None:
    overview = parse_overview(body)
    assert overview is not None
    assert (overview.status, overview.severity, overview.total) == (status, severity, total)
    assert overview.duration == duration
    assert overview.final is (status in ("Success", "Error", "Stopped"))


@pytest.mark.parametrize("body", [None, {}, {REPORT_MIME: {}}, {REPORT_MIME: {"scan_status": ""}}])
def test_absent_overview_means_queued(body: Mapping[str, Any] | None) -> None:
    assert parse_overview(body) is None


def test_parse_artifact() -> None:
    artifact = parse_artifact(
        {
            "id": 5,
            "digest": "sha256:abc",
            "project_id": 3,
            "tags": [{"name": "1.0.0"}, {"name": "latest"}],
            "scan_overview": SUCCESS_2X,
            "push_time": "2024-03-01T08:59:00.000Z",
        }
    )
    assert (artifact.id, artifact.digest, artifact.project_id) == (5, "sha256:abc", 3)
    assert artifact.tags == ("1.0.0", "latest")
    assert artifact.scan is not None and artifact.scan.status == "Success"
    assert parse_artifact({"id": 1, "digest": "d", "tags": None}).tags == ()


@pytest.mark.parametrize(
    ("body", "ids", "expires"),
    [
        # ids exactly as stored: Harbor matches them exactly (CVESet.Contains)
        (
            {"items": [{"cve_id": "cve-1"}, {"cve_id": " CVE-2 "}], "expires_at": 1700000000},
            {"cve-1", " CVE-2 "},
            1700000000,
        ),
        ({"items": None, "expires_at": None}, set(), None),
        ({"items": [{"cve_id": ""}], "expires_at": 0}, set(), 0),  # 0 is kept: expired
        ({"items": [], "expires_at": -5}, set(), -5),
        ({"items": []}, set(), None),  # no key, as Harbor stores a new project's list
        (None, set(), None),
    ],
)
def test_parse_allowlist(
    body: Mapping[str, Any] | None, ids: set[str], expires: int | None
) -> None:
    allowlist = parse_allowlist(body, "system")
    assert allowlist.cve_ids == ids
    assert allowlist.expires_at == expires


@pytest.mark.parametrize(
    "body",
    [
        {"items": "CVE-1"},
        {"items": ["CVE-1"]},
        {"items": [{"cve_id": 5}]},
        {"items": [], "expires_at": "2030-01-01"},
        {"items": [], "expires_at": 1.5},
        {"items": [], "expires_at": True},
    ],
)
def test_malformed_allowlist_is_one_clear_error(body: Mapping[str, Any]) -> None:
    with pytest.raises(HarborResponseError, match="getSystemCVEAllowlist answered with system"):
        parse_allowlist(body, "system")


@pytest.mark.parametrize(
    ("metadata", "reuse"),
    [
        ({"auto_scan": "true"}, True),  # no key: Harbor's ReuseSysCVEAllowlist() is true
        (None, True),
        ({"reuse_sys_cve_allowlist": "false"}, False),
        ({"reuse_sys_cve_allowlist": "true"}, True),
        ({"reuse_sys_cve_allowlist": "True"}, True),
        ({"reuse_sys_cve_allowlist": "1"}, True),
        ({"reuse_sys_cve_allowlist": ""}, False),  # present but not true, as in isTrue()
        ({"reuse_sys_cve_allowlist": "yes"}, False),
    ],
)
def test_reuse_of_the_system_allowlist_follows_harbor(
    metadata: dict[str, str] | None, reuse: bool
) -> None:
    project = parse_project({"project_id": 1, "name": "p", "metadata": metadata})
    assert project.reuse_system_allowlist is reuse


def test_parse_project() -> None:
    project = parse_project(
        {
            "project_id": 4,
            "name": "k1s0-system",
            "metadata": {"auto_scan": "true", "reuse_sys_cve_allowlist": "false"},
            "cve_allowlist": {"items": [{"cve_id": "CVE-2"}]},
        }
    )
    assert (project.id, project.auto_scan, project.reuse_system_allowlist) == (4, True, False)
    assert project.allowlist.cve_ids == {"CVE-2"}
    assert project.allowlist.source == "project k1s0-system"
    assert parse_project({"project_id": 1, "name": "x"}).auto_scan is False


@pytest.mark.parametrize(
    "body",
    [
        {"name": "p", "metadata": ["auto_scan"]},
        {"name": "p", "metadata": {"auto_scan": True}},
        {"name": "p", "cve_allowlist": []},
    ],
)
def test_malformed_project_is_one_clear_error(body: Mapping[str, Any]) -> None:
    with pytest.raises(HarborResponseError, match="Harbor getProject answered with"):
        parse_project(body)


def test_parse_findings_keeps_every_finding_and_reads_both_mime_types() -> None:
    body = {
        REPORT_MIME: {
            "vulnerabilities": [
                {
                    "id": "CVE-1",
                    "package": "openssl",
                    "version": "1.0",
                    "fix_version": "1.1",
                    "severity": "Critical",
                    "links": ["https://l/1"],
                    "preferred_cvss": {"score_v3": 9.8},
                    "cwe_ids": [""],
                    "status": "fixed",
                },
                {"id": "CVE-2", "package": "zlib", "version": "1", "severity": "Medium"},
                {"id": "", "severity": "High"},
                {"severity": "Severe", "id": "CVE-3"},
            ]
        },
        NATIVE_MIME: {
            "vulnerabilities": [
                {"id": "CVE-2", "package": "zlib", "version": "1", "severity": "Medium"},
                {"id": "CVE-4", "package": "musl", "version": "1", "severity": "High"},
            ]
        },
    }
    findings = parse_findings(body)
    assert [(f.id, f.severity, f.score) for f in findings] == [
        ("CVE-1", "critical", 9.8),
        ("CVE-2", "medium", None),
        ("", "high", None),
        ("CVE-3", UNRECOGNISED, None),
        ("CVE-4", "high", None),
    ]
    assert findings[1].link == "https://nvd.nist.gov/vuln/detail/CVE-2"
    assert findings[3].reported_severity == "Severe"
    assert parse_findings({}) == ()
    assert parse_findings({REPORT_MIME: {"vulnerabilities": None}}) == ()
    assert parse_findings({REPORT_MIME: None}) == ()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({REPORT_MIME: []}, "the report (1.1) is [], not an object"),
        ({NATIVE_MIME: {"vulnerabilities": {}}}, "vulnerabilities is {}, not a list"),
        ({REPORT_MIME: {"vulnerabilities": ["CVE-1"]}}, 'a finding is "CVE-1", not an object'),
        ({REPORT_MIME: {"vulnerabilities": [{"id": 7}]}}, "a finding's id is 7, not a string"),
    ],
)
def test_report_shapes_outside_the_spec_are_problems(body: Mapping[str, Any], problem: str) -> None:
    assert any(problem in p for p in parse_reports(body).problems)


@pytest.mark.parametrize("score", [10**400, -1, 0, 11, True, "9.8", None])
def test_odd_scores_are_no_score_never_an_exception(score: object) -> None:
    body = {
        REPORT_MIME: {
            "vulnerabilities": [
                {"id": "x", "severity": "High", "preferred_cvss": {"score_v3": score}}
            ]
        }
    }
    assert parse_findings(body)[0].score is None


@pytest.mark.parametrize(("given", "expected"), [("7", 7), ("²", 0), ("-1", 0), ("", 0)])
def test_retention_id_metadata(given: str, expected: int) -> None:
    assert (
        parse_project({"name": "p", "metadata": {"retention_id": given}}).retention_id == expected
    )


def test_a_project_artifact_knows_its_repository_and_size() -> None:
    """As Harbor 2.15 lists artifacts (repository_name carries the project, size in bytes)."""
    body = {
        "id": 7,
        "digest": "sha256:" + "6" * 64,
        "project_id": 2,
        "repository_name": "k1s0-system/team/app",
        "size": 1284,
        "push_time": "2026-12-01T13:52:30.123Z",
        "scan_overview": SUCCESS_2X,
    }
    found = parse_sized_artifact(body, "k1s0-system")
    assert (found.repository, found.size) == ("team/app", 1284)
    assert found.artifact.scan is not None and found.artifact.scan.duration == 2.75
    assert parse_sized_artifact({}, "k1s0-system").size == 0
