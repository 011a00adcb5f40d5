"""Parsing Harbor's response shapes, and how the client maps HTTP statuses (no network)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from k1s0_action.errors import HarborError
from k1s0_action.harbor import (
    REPORT_MIME,
    HarborAuthError,
    HarborClient,
    HarborNotFoundError,
    HarborPermissionError,
    parse_allowlist,
    parse_artifact,
    parse_findings,
    parse_overview,
    parse_project,
)
from k1s0_action.retry import Backoff

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
        (
            {"items": [{"cve_id": "cve-1"}], "expires_at": 1700000000},
            {"CVE-1"},
            datetime.fromtimestamp(1700000000, UTC),
        ),
        ({"items": None, "expires_at": None}, set(), None),
        ({"items": [], "expires_at": 0}, set(), None),
        (None, set(), None),
    ],
)
def test_parse_allowlist(
    body: Mapping[str, Any] | None, ids: set[str], expires: datetime | None
) -> None:
    allowlist = parse_allowlist(body, "system")
    assert allowlist.cve_ids == ids
    assert allowlist.expires_at == expires


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


def test_parse_findings_tolerates_old_and_new_shapes() -> None:
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
            ]
        }
    }
    findings = parse_findings(body)
    assert [(f.id, f.severity, f.score) for f in findings] == [
        ("CVE-1", "critical", 9.8),
        ("CVE-2", "medium", None),
    ]
    assert findings[1].link == "https://nvd.nist.gov/vuln/detail/CVE-2"
    assert parse_findings({}) == ()


class Canned(BaseAdapter):
    """Answers each request with the next canned (status, headers) and records the URL."""

    def __init__(self, answers: list[tuple[int, dict[str, str]] | Exception]) -> None:
        super().__init__()
        self.answers = answers
        self.urls: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.urls.append(str(request.url))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code, headers = answer
        response.headers.update(headers)
        response._content = json.dumps(
            {"id": 1, "digest": "sha256:d"}
            if response.status_code == 200
            else {"errors": [{"code": "X", "message": "m"}]}
        ).encode()
        response.request = request
        return response

    def close(self) -> None:
        pass


def client(
    answers: list[tuple[int, dict[str, str]] | Exception],
) -> tuple[HarborClient, Canned, list[float]]:
    adapter = Canned(answers)
    session = requests.Session()
    session.mount("http://", adapter)
    waits: list[float] = []
    harbor = HarborClient(
        "http://h",
        "robot$p+ci",
        "s3cret",
        backoff=Backoff(attempts=4, initial=0.1, maximum=1.0),
        session=session,
        sleep=waits.append,
    )
    return harbor, adapter, waits


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (401, HarborAuthError, "check the harbor-username and harbor-password"),
        (403, HarborPermissionError, "lacks the permission for getArtifact"),
        (404, HarborNotFoundError, "Harbor has no artifact p/team/svc@sha256:d"),
    ],
)
def test_client_errors_are_not_retried(status: int, error: type[HarborError], text: str) -> None:
    harbor, _, _ = client([(status, {})])
    with pytest.raises(error, match=text):
        harbor.get_artifact("p", "team/svc", "sha256:d")
    assert harbor.requests_sent == 1


def test_nested_repository_name_is_encoded_twice() -> None:
    harbor, adapter, _ = client([(200, {})])
    harbor.get_artifact("p", "team/svc", "sha256:d")
    assert "/projects/p/repositories/team%252Fsvc/artifacts/sha256:d?" in adapter.urls[0]


def test_transient_failures_are_retried_honouring_retry_after() -> None:
    harbor, _, waits = client(
        [(503, {}), (429, {"Retry-After": "2"}), requests.ConnectionError("reset"), (200, {})]
    )
    assert harbor.get_artifact("p", "svc", "sha256:d").digest == "sha256:d"
    assert harbor.requests_sent == 4
    assert len(waits) == 3
    assert waits[1] >= 2.0


def test_transient_failures_give_up_with_one_clear_line() -> None:
    harbor, _, _ = client([(502, {})] * 4)
    with pytest.raises(HarborError, match="gave up after 4 attempts"):
        harbor.get_artifact("p", "svc", "sha256:d")
