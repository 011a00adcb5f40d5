"""Harbor's v2.0 REST API: the few operations the scan gate and promotion need.

Transient failures (5xx, 429, timeouts, dropped connections) are retried with backoff and jitter,
honouring Retry-After; 401/403/404 are never retried and each says what is wrong in one line.
Responses are parsed into frozen values, accepting both the omitempty shapes of Harbor 2.x and the
older `"severity": ""` / `"summary": null` ones.
"""

from __future__ import annotations

import http.cookiejar
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from k1s0_action.errors import HarborError, TransientError
from k1s0_action.policy import Allowlist, Finding, normalize_severity
from k1s0_action.retry import Backoff, retrying

REPORT_MIME = "application/vnd.security.vulnerability.report; version=1.1"
ACCEPT_VULNERABILITIES = (
    f"{REPORT_MIME}, application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
)
FINAL_STATUSES = ("Success", "Error", "Stopped")
PAGE_SIZE = 100


class HarborAuthError(HarborError):
    """401: the robot account's name or secret is wrong."""


class HarborPermissionError(HarborError):
    """403: the robot account lacks a permission."""


class HarborNotFoundError(HarborError):
    """404: the project, repository or artifact does not exist."""


class HarborConflictError(HarborError):
    """409: e.g. a scan is already running, or a tag already exists."""


@dataclass(frozen=True)
class ScanOverview:
    status: str  # Pending | Scheduled | Running | Stopped | Error | Success
    severity: str = ""
    total: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def duration(self) -> float | None:
        if self.start_time and self.end_time:
            return (self.end_time - self.start_time).total_seconds()
        return None


@dataclass(frozen=True)
class Artifact:
    id: int
    digest: str
    project_id: int
    tags: tuple[str, ...]
    scan: ScanOverview | None  # None: no scan report yet (queued or never started)
    push_time: datetime | None = None


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    auto_scan: bool
    reuse_system_allowlist: bool
    allowlist: Allowlist
    retention_id: int = 0  # 0: the project has no tag-retention policy


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_overview(body: Mapping[str, Any] | None) -> ScanOverview | None:
    """The overview of our report MIME type (or the first one), None when there is none."""
    if not body:
        return None
    entry = body.get(REPORT_MIME)
    if not isinstance(entry, Mapping):
        entry = next((v for v in body.values() if isinstance(v, Mapping)), None)
    if entry is None or not entry.get("scan_status"):
        return None
    summary = _mapping(entry.get("summary"))
    return ScanOverview(
        status=str(entry["scan_status"]),
        severity=str(entry.get("severity") or ""),
        total=_int(summary.get("total")),
        start_time=parse_time(entry.get("start_time")),
        end_time=parse_time(entry.get("end_time")),
    )


def parse_artifact(body: Mapping[str, Any]) -> Artifact:
    tags = body.get("tags") or []
    return Artifact(
        id=_int(body.get("id")),
        digest=str(body.get("digest") or ""),
        project_id=_int(body.get("project_id")),
        tags=tuple(str(t["name"]) for t in tags if isinstance(t, Mapping) and t.get("name")),
        scan=parse_overview(body.get("scan_overview")),
        push_time=parse_time(body.get("push_time")),
    )


def parse_allowlist(body: Mapping[str, Any] | None, source: str) -> Allowlist:
    body = body or {}
    items = body.get("items") or []
    expires = body.get("expires_at")
    return Allowlist(
        source=source,
        cve_ids=frozenset(
            str(i["cve_id"]).strip().upper()
            for i in items
            if isinstance(i, Mapping) and i.get("cve_id")
        ),
        expires_at=(
            datetime.fromtimestamp(expires, UTC)
            if isinstance(expires, int) and not isinstance(expires, bool) and expires > 0
            else None
        ),
    )


def parse_project(body: Mapping[str, Any]) -> Project:
    metadata = body.get("metadata") or {}
    name = str(body.get("name") or "")
    retention = str(metadata.get("retention_id") or "").strip()
    return Project(
        id=_int(body.get("project_id")),
        name=name,
        auto_scan=str(metadata.get("auto_scan") or "").lower() == "true",
        reuse_system_allowlist=str(metadata.get("reuse_sys_cve_allowlist") or "").lower() == "true",
        allowlist=parse_allowlist(body.get("cve_allowlist"), f"project {name}"),
        retention_id=int(retention) if retention.isdigit() else 0,
    )


def parse_findings(body: Mapping[str, Any]) -> tuple[Finding, ...]:
    report = body.get(REPORT_MIME)
    if not isinstance(report, Mapping):
        report = next((v for v in body.values() if isinstance(v, Mapping)), {})
    findings = []
    for item in report.get("vulnerabilities") or []:
        if not isinstance(item, Mapping) or not item.get("id"):
            continue
        cvss = _mapping(item.get("preferred_cvss"))
        score = cvss.get("score_v3") or cvss.get("score_v2")
        findings.append(
            Finding(
                id=str(item["id"]),
                package=str(item.get("package") or ""),
                version=str(item.get("version") or ""),
                fix_version=str(item.get("fix_version") or ""),
                severity=normalize_severity(item.get("severity")),
                description=str(item.get("description") or ""),
                links=tuple(str(link) for link in item.get("links") or [] if link),
                score=float(score) if isinstance(score, int | float) and score > 0 else None,
            )
        )
    return tuple(findings)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _server_message(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(str(e.get("message") or e.get("code")) for e in errors) or response.reason
    except (ValueError, AttributeError):
        return response.reason or f"HTTP {response.status_code}"


class HarborTransientError(TransientError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HarborClient:
    """One robot account's view of one Harbor; every call is one logical, retried request."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        timeout: tuple[float, float] = (5.0, 30.0),
        backoff: Backoff | None = None,
        on_retry: Callable[[str], None] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.api = self.url + "/api/v2.0"
        self.username = username
        self.timeout = timeout
        self.backoff = backoff or Backoff(attempts=6, initial=0.25, maximum=8.0)
        self.on_retry = on_retry
        self.session = session or requests.Session()
        # Harbor sets a session cookie on every answer; sent back, it puts every later POST/PUT/
        # DELETE under Harbor's CSRF check (403). Basic auth needs no session: keep no cookies.
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self.session.auth = (username, password)
        self.session.headers["Accept"] = "application/json"
        self.requests_sent = 0
        self._sleep = sleep

    # -- paths -----------------------------------------------------------------------------------
    @staticmethod
    def _repo_path(project: str, repository: str) -> str:
        # Harbor decodes the path once before routing, so a nested name is encoded twice.
        return (
            f"/projects/{quote(project, safe='')}/repositories/"
            f"{quote(quote(repository, safe=''), safe='')}"
        )

    def _artifact_path(self, project: str, repository: str, reference: str) -> str:
        return f"{self._repo_path(project, repository)}/artifacts/{quote(reference, safe=':')}"

    # -- transport -------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        operation: str,
        resource: str,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: tuple[int, ...] = (200,),
    ) -> requests.Response:
        def once() -> requests.Response:
            self.requests_sent += 1
            try:
                response = self.session.request(
                    method,
                    self.api + path,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as error:
                raise HarborTransientError(
                    f"Harbor {operation}: {type(error).__name__} from {self.url}"
                ) from None
            return self._check(response, operation, resource, accept)

        def report(number: int, error: TransientError, wait: float) -> None:
            if self.on_retry:
                self.on_retry(f"{error.diagnostics()}; retry {number} in {wait:.1f}s")

        try:
            return retrying(once, self.backoff, on_retry=report, sleep=self._sleep)
        except TransientError as error:
            raise HarborError(
                f"{error.diagnostics()}; gave up after {self.backoff.attempts} attempts: "
                f"check that Harbor at {self.url} is up"
            ) from None

    def _check(
        self, response: requests.Response, operation: str, resource: str, accept: tuple[int, ...]
    ) -> requests.Response:
        status = response.status_code
        if status in accept:
            return response
        detail = _server_message(response)
        if status == 429 or status >= 500:
            raise HarborTransientError(
                f"Harbor {operation} answered {status} ({detail})", _retry_after(response)
            )
        if status == 401:
            raise HarborAuthError(
                f"Harbor at {self.url} refused the robot account '{self.username}' (401): "
                "check the harbor-username and harbor-password inputs"
            )
        if status == 403 and "csrf" in detail.lower():
            raise HarborError(
                f"Harbor refused {operation} on {resource} by its CSRF check (403: {detail}): the "
                "request carried a session cookie; make sure nothing between the action and "
                f"Harbor at {self.url} adds cookies to API requests"
            )
        if status == 403:
            raise HarborPermissionError(
                f"robot account '{self.username}' lacks the permission for {operation} on "
                f"{resource} (403): add it to the robot account in Harbor"
            )
        if status == 404:
            raise HarborNotFoundError(
                f"Harbor has no {resource} (404 from {operation}): check the project and "
                f"repository names, and that the image was pushed ({detail})"
            )
        if status == 409:
            raise HarborConflictError(f"Harbor {operation} on {resource}: conflict ({detail})")
        raise HarborError(f"Harbor {operation} on {resource} answered {status}: {detail}")

    # -- operations ------------------------------------------------------------------------------
    def get_project(self, project: str) -> Project:
        response = self._call(
            "GET",
            f"/projects/{quote(project, safe='')}",
            "getProject",
            f"project {project}",
            headers={"X-Is-Resource-Name": "true"},
        )
        return parse_project(response.json())

    def system_allowlist(self) -> Allowlist:
        response = self._call(
            "GET", "/system/CVEAllowlist", "getSystemCVEAllowlist", "the system CVE allowlist"
        )
        return parse_allowlist(response.json(), "system")

    def get_artifact(self, project: str, repository: str, reference: str) -> Artifact:
        response = self._call(
            "GET",
            self._artifact_path(project, repository, reference),
            "getArtifact",
            f"artifact {project}/{repository}@{reference}",
            params={"with_tag": "true", "with_scan_overview": "true"},
            headers={"X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES},
        )
        return parse_artifact(response.json())

    def list_artifacts(self, project: str, repository: str) -> Iterator[Artifact]:
        """Every artifact of the repository with its tags and scan overview, page by page."""
        page = 1
        while True:
            response = self._call(
                "GET",
                f"{self._repo_path(project, repository)}/artifacts",
                "listArtifacts",
                f"repository {project}/{repository}",
                params={
                    "page": str(page),
                    "page_size": str(PAGE_SIZE),
                    "with_tag": "true",
                    "with_scan_overview": "true",
                },
                headers={"X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES},
            )
            items = response.json() or []
            for item in items:
                yield parse_artifact(item)
            if len(items) < PAGE_SIZE:
                return
            page += 1

    def start_scan(self, project: str, repository: str, reference: str) -> bool:
        """Asks for a vulnerability scan; False when one is already running (409)."""
        try:
            self._call(
                "POST",
                f"{self._artifact_path(project, repository, reference)}/scan",
                "scanArtifact",
                f"artifact {project}/{repository}@{reference}",
                json_body={"scan_type": "vulnerability"},
                accept=(202,),
            )
        except HarborConflictError:
            return False
        return True

    def vulnerabilities(self, project: str, repository: str, reference: str) -> tuple[Finding, ...]:
        response = self._call(
            "GET",
            f"{self._artifact_path(project, repository, reference)}/additions/vulnerabilities",
            "getVulnerabilitiesAddition",
            f"scan report of {project}/{repository}@{reference}",
            headers={"X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES},
        )
        return parse_findings(response.json() or {})

    def create_tag(self, project: str, repository: str, reference: str, tag: str) -> None:
        self._call(
            "POST",
            f"{self._artifact_path(project, repository, reference)}/tags",
            "createTag",
            f"tag {project}/{repository}:{tag}",
            json_body={"name": tag},
            accept=(201,),
        )

    def delete_tag(self, project: str, repository: str, reference: str, tag: str) -> None:
        self._call(
            "DELETE",
            f"{self._artifact_path(project, repository, reference)}/tags/{quote(tag, safe='')}",
            "deleteTag",
            f"tag {project}/{repository}:{tag}",
        )

    # -- tag retention ---------------------------------------------------------------------------
    def get_retention(self, retention_id: int) -> dict[str, Any]:
        response = self._call(
            "GET",
            f"/retentions/{retention_id}",
            "getRetention",
            f"retention policy {retention_id}",
        )
        body = response.json()
        return dict(body) if isinstance(body, Mapping) else {}

    def create_retention(self, policy: Mapping[str, Any]) -> int:
        """Creates the project's policy; returns its id (from Location, else the project's
        retention_id metadata)."""
        scope = _mapping(policy.get("scope"))
        response = self._call(
            "POST",
            "/retentions",
            "createRetention",
            f"retention policy of project {scope.get('ref')}",
            json_body=policy,
            accept=(201,),
        )
        location = response.headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]
        return int(location) if location.isdigit() else 0

    def update_retention(self, retention_id: int, policy: Mapping[str, Any]) -> None:
        self._call(
            "PUT",
            f"/retentions/{retention_id}",
            "updateRetention",
            f"retention policy {retention_id}",
            json_body=policy,
        )
