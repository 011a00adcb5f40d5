"""Harbor's v2.0 REST API: the few operations the scan gate and promotion need.

Transient failures (5xx, 429, timeouts, dropped connections) are retried with backoff and jitter,
honouring Retry-After; 401/403/404 are never retried and each says what is wrong in one line (a 403
names the robot permission the operation needs). Responses are parsed into frozen values,
accepting both the omitempty shapes of Harbor 2.x and the older `"severity": ""` /
`"summary": null` ones, and nothing else: a 2xx body that is not JSON of the documented type is a
HarborResponseError naming the operation and what came back; inside the scan overview and report,
whatever does not fit the schema is kept as a problem the gate blocks on (evidence.py), never
dropped. Project metadata is read as Harbor reads it (an absent `reuse_sys_cve_allowlist` is true),
allowlists exactly as stored.
"""

from __future__ import annotations

import http.cookiejar
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from k1s0_action.errors import HarborError, TransientError
from k1s0_action.evidence import (
    NATIVE_MIME,
    REPORT_MIME,
    REPORT_MIMES,
    OverviewClaim,
    Report,
    Reports,
)
from k1s0_action.policy import UNRECOGNISED, Allowlist, Finding, harbor_severity
from k1s0_action.retry import Backoff, retrying

ACCEPT_VULNERABILITIES = f"{REPORT_MIME}, {NATIVE_MIME}"
FINAL_STATUSES = ("Success", "Error", "Stopped")
PAGE_SIZE = 100
# The robot permission (Harbor resource:action) each operation needs, from the
# RequireProjectAccess calls in Harbor's src/server/v2.0/handler/*.go.
PERMISSIONS = {
    "getProject": "project:read",
    "listArtifacts": "artifact:list",
    "getArtifact": "artifact:read",
    "scanArtifact": "scan:create",
    "getVulnerabilitiesAddition": "artifact-addition:read",
    "getAddition": "artifact-addition:read",
    "createTag": "tag:create",
    "deleteTag": "tag:delete",
    "getRetention": "tag-retention:read",
    "createRetention": "tag-retention:create",
    "updateRetention": "tag-retention:update",
}


class HarborAuthError(HarborError):
    """401: the robot account's name or secret is wrong."""


class HarborPermissionError(HarborError):
    """403: the robot account lacks a permission."""


class HarborNotFoundError(HarborError):
    """404: the project, repository or artifact does not exist."""


class HarborConflictError(HarborError):
    """409: e.g. a scan is already running, or a tag already exists."""


class HarborResponseError(HarborError):
    """A 2xx answer whose body is not what Harbor's API says it is (a proxy page, a wrong type)."""


@dataclass(frozen=True)
class ScanOverview:
    status: str  # Pending | Scheduled | Running | Stopped | Error | Success
    severity: str = ""
    total: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    claims: tuple[OverviewClaim, ...] = ()  # one per report MIME type present

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
    labels: Mapping[str, str] = field(default_factory=dict)  # the image config's Labels


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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: object) -> int | None:
    """A non-negative JSON integer, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _shown(value: object) -> str:
    """An untrusted value for a message: JSON-escaped (one line, no control characters), short."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else _shown(value)


def _harbor_true(value: str) -> bool:
    # Harbor's isTrue (src/pkg/project/models/project.go)
    return value.lower() in ("true", "1")


# -- the scan overview and the report ------------------------------------------------------------


def _claim(mime: str, entry: Mapping[str, Any], status: str) -> OverviewClaim:
    problems: list[str] = []
    severity: str | None = None
    given = entry.get("severity")
    if isinstance(given, str) and given:
        severity = harbor_severity(given)
        if severity == UNRECOGNISED:
            problems.append(f"severity {_shown(given)} is not one of Harbor's")
    elif given not in (None, ""):
        problems.append(f"severity is {_shown(given)}, not a string")
    total: int | None = None
    counts: tuple[tuple[str, int], ...] | None = None
    summary = entry.get("summary")
    if isinstance(summary, Mapping):
        given_total = summary.get("total")
        total = _count(given_total)
        if total is None and given_total is not None:
            problems.append(f"summary.total is {_shown(given_total)}, not a count")
        per_severity = summary.get("summary")
        if isinstance(per_severity, Mapping):
            tally: Counter[str] = Counter()
            for name, number in per_severity.items():
                known = harbor_severity(name)
                if known == UNRECOGNISED:
                    problems.append(f"summary.summary names {_shown(name)}, not a Harbor severity")
                count = _count(number)
                if count is None:
                    problems.append(
                        f"summary.summary {_shown(name)} is {_shown(number)}, not a count"
                    )
                    continue
                tally[known] += count
            counts = tuple(sorted(tally.items()))
        elif per_severity is not None:
            problems.append(f"summary.summary is {_shown(per_severity)}, not an object")
    elif summary is not None:
        problems.append(f"summary is {_shown(summary)}, not an object")
    return OverviewClaim(mime, status, severity, total, counts, tuple(problems))


def _merged_status(statuses: list[str]) -> str:
    waiting = [s for s in statuses if s not in FINAL_STATUSES]
    if waiting:
        return waiting[0]
    for status in ("Error", "Stopped"):
        if status in statuses:
            return status
    return "Success"


def parse_overview(body: object) -> ScanOverview | None:
    """The scan overview over both report MIME types; None when no scan has started."""
    if not isinstance(body, Mapping):
        return None
    entries = [
        (mime, body[mime])
        for mime in REPORT_MIMES
        if isinstance(body.get(mime), Mapping)
        and isinstance(body[mime].get("scan_status"), str)
        and body[mime]["scan_status"]
    ]
    if not entries:
        return None
    claims = tuple(_claim(mime, entry, str(entry["scan_status"])) for mime, entry in entries)
    first = entries[0][1]
    summary = _mapping(first.get("summary"))
    starts = [t for _, e in entries if (t := parse_time(e.get("start_time")))]
    ends = [t for _, e in entries if (t := parse_time(e.get("end_time")))]
    return ScanOverview(
        status=_merged_status([c.status for c in claims]),
        severity=_text(first.get("severity")),
        total=_int(summary.get("total")),
        start_time=min(starts) if starts else None,
        end_time=max(ends) if ends else None,
        claims=claims,
    )


def _score(value: object) -> float | None:
    """A CVSS score for SARIF's ranking; anything that is not a sane positive number is none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        score = float(value)
    except OverflowError:
        return None
    return score if 0 < score <= 10 else None


def _finding(item: Mapping[str, Any]) -> tuple[Finding, str]:
    problem = ""
    given_id = item.get("id")
    if given_id is not None and not isinstance(given_id, str):
        problem = f"a finding's id is {_shown(given_id)}, not a string"
    given_severity = item.get("severity")
    cvss = _mapping(item.get("preferred_cvss"))
    score = cvss.get("score_v3") or cvss.get("score_v2")
    links = item.get("links")
    finding = Finding(
        id=given_id if isinstance(given_id, str) else "",
        package=_text(item.get("package")),
        version=_text(item.get("version")),
        fix_version=_text(item.get("fix_version")),
        severity=harbor_severity(given_severity),
        description=_text(item.get("description")),
        links=tuple(link for link in links if isinstance(link, str) and link)
        if isinstance(links, list)
        else (),
        score=_score(score),
        reported_severity=_text(given_severity),
    )
    return finding, problem


def parse_reports(body: Mapping[str, Any]) -> Reports:
    """Both report MIME types' findings; what does not fit Harbor's schema becomes a problem
    (the gate blocks on any), never a silently dropped finding."""
    reports: list[Report] = []
    problems: list[str] = []
    for mime in REPORT_MIMES:
        if mime not in body:
            continue
        where = f"the report ({'1.1' if mime == REPORT_MIME else '1.0'})"
        entry = body[mime]
        if entry is None:
            reports.append(Report(mime, ()))
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"{where} is {_shown(entry)}, not an object")
            continue
        items = entry.get("vulnerabilities")
        if items is not None and not isinstance(items, list):
            problems.append(f"{where}: vulnerabilities is {_shown(items)}, not a list")
            items = None
        findings: list[Finding] = []
        for item in items or []:
            if not isinstance(item, Mapping):
                problems.append(f"{where}: a finding is {_shown(item)}, not an object")
                continue
            finding, problem = _finding(item)
            if problem:
                problems.append(f"{where}: {problem}")
            findings.append(finding)
        reports.append(Report(mime, tuple(findings)))
    return Reports(tuple(reports), tuple(problems))


def parse_findings(body: Mapping[str, Any]) -> tuple[Finding, ...]:
    return parse_reports(body).findings()


# -- projects and allowlists ---------------------------------------------------------------------


def _malformed(operation: str, what: str) -> HarborResponseError:
    return HarborResponseError(
        f"Harbor {operation} answered with {what}, which its API does not allow; check that "
        "harbor-url points at Harbor's API and that Harbor is healthy"
    )


def parse_artifact(body: Mapping[str, Any]) -> Artifact:
    tags = body.get("tags") or []
    return Artifact(
        id=_int(body.get("id")),
        digest=str(body.get("digest") or ""),
        project_id=_int(body.get("project_id")),
        tags=tuple(
            str(t["name"])
            for t in (tags if isinstance(tags, list) else [])
            if isinstance(t, Mapping) and t.get("name")
        ),
        scan=parse_overview(body.get("scan_overview")),
        push_time=parse_time(body.get("push_time")),
        labels={
            str(k): str(v)
            for k, v in _mapping(
                _mapping(_mapping(body.get("extra_attrs")).get("config")).get("Labels")
            ).items()
        },
    )


def parse_allowlist(
    body: Mapping[str, Any] | None, source: str, operation: str = "getSystemCVEAllowlist"
) -> Allowlist:
    """Harbor's CVE allowlist: ids kept exactly as stored (Harbor matches them exactly); an
    `expires_at` that is present is kept as is, so 0 and negative values are already expired."""
    body = body or {}
    items = body.get("items")
    if items is not None and not isinstance(items, list):
        raise _malformed(operation, f"{source} CVE allowlist items {_shown(items)}")
    ids: set[str] = set()
    for item in items or []:
        cve = item.get("cve_id", "") if isinstance(item, Mapping) else None
        if not isinstance(cve, str):
            raise _malformed(operation, f"{source} CVE allowlist item {_shown(item)}")
        if cve:  # Harbor's validator refuses empty ids; none can match a finding anyway
            ids.add(cve)
    expires = body.get("expires_at")
    if expires is not None and not _is_int(expires):
        raise _malformed(operation, f"{source} CVE allowlist expires_at {_shown(expires)}")
    return Allowlist(source=source, cve_ids=frozenset(ids), expires_at=expires)


def parse_project(body: Mapping[str, Any]) -> Project:
    given = body.get("metadata")
    if given is None:
        given = {}
    if not isinstance(given, Mapping) or not all(
        isinstance(v, str) or v is None for v in given.values()
    ):
        raise _malformed("getProject", f"project metadata {_shown(given)}")
    # The spec makes every metadata value nullable; Harbor stores strings, so null is absent.
    metadata = {k: v for k, v in given.items() if v is not None}
    allowlist = body.get("cve_allowlist")
    if allowlist is not None and not isinstance(allowlist, Mapping):
        raise _malformed("getProject", f"cve_allowlist {_shown(allowlist)}")
    name = str(body.get("name") or "")
    retention = str(metadata.get("retention_id") or "").strip()
    # Harbor's ReuseSysCVEAllowlist(): a project without the key reuses the system list.
    reuse = metadata.get("reuse_sys_cve_allowlist")
    return Project(
        id=_int(body.get("project_id")),
        name=name,
        auto_scan=_harbor_true(metadata.get("auto_scan", "")),
        reuse_system_allowlist=True if reuse is None else _harbor_true(reuse),
        allowlist=parse_allowlist(allowlist, f"project {name}", "getProject"),
        retention_id=int(retention) if retention.isascii() and retention.isdigit() else 0,
    )


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


def _one_line(text: str) -> str:
    """Server text for a message: control characters escaped, so it stays one line."""
    return "".join(c if c.isprintable() or c == " " else json.dumps(c)[1:-1] for c in text[:500])


def _server_message(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        text = "; ".join(str(e.get("message") or e.get("code")) for e in errors)
    except (ValueError, AttributeError, TypeError):
        text = ""
    return _one_line(text or response.reason or f"HTTP {response.status_code}")


def _what_came_back(response: requests.Response) -> str:
    """A short, escaped description of a body that is not the JSON Harbor's API returns."""
    text = response.text
    kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    if not text.strip():
        return f"an empty body ({kind})"
    if "html" in kind or text.lstrip()[:1] == "<":
        return f"an HTML page ({kind}, {_shown(text.strip()[:40])}), e.g. a proxy or login page"
    return f"{kind} {_shown(text.strip()[:40])}"


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
            needed = PERMISSIONS.get(operation)
            raise HarborPermissionError(
                f"robot account '{self.username}' lacks the permission for {operation} on "
                f"{resource} (403"
                + (f", Harbor permission {needed}" if needed else "")
                + "): add it to the robot account in Harbor"
            )
        if status == 404:
            raise HarborNotFoundError(
                f"Harbor has no {resource} (404 from {operation}): check the project and "
                f"repository names, and that the image was pushed ({detail})"
            )
        if status == 409:
            raise HarborConflictError(f"Harbor {operation} on {resource}: conflict ({detail})")
        raise HarborError(f"Harbor {operation} on {resource} answered {status}: {detail}")

    @staticmethod
    def _object(response: requests.Response, operation: str) -> Mapping[str, Any]:
        body = HarborClient._json(response, operation)
        if not isinstance(body, Mapping):
            raise _malformed(operation, f"JSON {_shown(body)} instead of an object")
        return body

    @staticmethod
    def _list(response: requests.Response, operation: str) -> list[Any]:
        body = HarborClient._json(response, operation)
        if not isinstance(body, list) or not all(isinstance(i, Mapping) for i in body):
            raise _malformed(operation, f"JSON {_shown(body)} instead of a list of objects")
        return body

    @staticmethod
    def _json(response: requests.Response, operation: str) -> object:
        try:
            return response.json()
        except ValueError:
            raise _malformed(operation, _what_came_back(response)) from None

    # -- operations ------------------------------------------------------------------------------
    def get_project(self, project: str) -> Project:
        response = self._call(
            "GET",
            f"/projects/{quote(project, safe='')}",
            "getProject",
            f"project {project}",
            headers={"X-Is-Resource-Name": "true"},
        )
        return parse_project(self._object(response, "getProject"))

    def system_allowlist(self) -> Allowlist:
        response = self._call(
            "GET", "/system/CVEAllowlist", "getSystemCVEAllowlist", "the system CVE allowlist"
        )
        return parse_allowlist(self._object(response, "getSystemCVEAllowlist"), "system")

    def get_artifact(self, project: str, repository: str, reference: str) -> Artifact:
        response = self._call(
            "GET",
            self._artifact_path(project, repository, reference),
            "getArtifact",
            f"artifact {project}/{repository}@{reference}",
            params={"with_tag": "true", "with_scan_overview": "true"},
            headers={"X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES},
        )
        return parse_artifact(self._object(response, "getArtifact"))

    def list_artifacts(self, project: str, repository: str) -> Iterator[Artifact]:
        """Every artifact of the repository with its tags and scan overview, page by page."""
        for item in self._pages(
            f"{self._repo_path(project, repository)}/artifacts",
            "listArtifacts",
            f"repository {project}/{repository}",
            params={"with_tag": "true", "with_scan_overview": "true"},
            headers={"X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES},
        ):
            yield parse_artifact(item)

    def _pages(
        self,
        path: str,
        operation: str,
        what: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        """The items of a listing, page by page, until a page comes back short."""
        page = 1
        while True:
            response = self._call(
                "GET",
                path,
                operation,
                what,
                params={**(params or {}), "page": str(page), "page_size": str(PAGE_SIZE)},
                headers=headers,
            )
            items = self._list(response, operation)
            yield from items
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
        return self.vulnerability_reports(project, repository, reference).findings()

    def vulnerability_reports(self, project: str, repository: str, reference: str) -> Reports:
        """The report under both MIME types (see evidence.py); `{}` when there is none."""
        response = self._call(
            "GET",
            f"{self._artifact_path(project, repository, reference)}/additions/vulnerabilities",
            "getVulnerabilitiesAddition",
            f"scan report of {project}/{repository}@{reference}",
            headers={"X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES},
        )
        return parse_reports(self._object(response, "getVulnerabilitiesAddition"))

    def vulnerability_report_body(
        self, project: str, repository: str, reference: str
    ) -> Mapping[str, Any]:
        """The report as Harbor sent it, for the vulnerability attestation (attest.py)."""
        response = self._call(
            "GET",
            f"{self._artifact_path(project, repository, reference)}/additions/vulnerabilities",
            "getVulnerabilitiesAddition",
            f"scan report of {project}/{repository}@{reference}",
            headers={"X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES},
        )
        return self._object(response, "getVulnerabilitiesAddition")

    # -- SBOM (Harbor 2.11+; sbom.py decides what the answers mean) ------------------------------
    def start_sbom(self, project: str, repository: str, reference: str) -> int:
        """Asks Harbor to generate the SBOM; the status code (202, 409, or 400/404/422 from a
        Harbor or scanner without SBOM support)."""
        response = self._call(
            "POST",
            f"{self._artifact_path(project, repository, reference)}/scan",
            "scanArtifact",
            f"artifact {project}/{repository}@{reference}",
            json_body={"scan_type": "sbom"},
            accept=(202, 400, 404, 409, 422),
        )
        return response.status_code

    def artifact_with_sbom(
        self, project: str, repository: str, reference: str
    ) -> Mapping[str, Any]:
        response = self._call(
            "GET",
            self._artifact_path(project, repository, reference),
            "getArtifact",
            f"artifact {project}/{repository}@{reference}",
            params={"with_sbom_overview": "true", "with_accessory": "true", "with_tag": "false"},
        )
        return self._object(response, "getArtifact")

    def sbom_document(self, project: str, repository: str, sbom_digest: str) -> Mapping[str, Any]:
        response = self._call(
            "GET",
            f"{self._artifact_path(project, repository, sbom_digest)}/additions/sbom",
            "getAddition",
            f"SBOM {project}/{repository}@{sbom_digest}",
        )
        return self._object(response, "getAddition")

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
        return dict(self._object(response, "getRetention"))

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

    # -- project-wide views (scan history, rescans) ----------------------------------------------
    def recent_project_artifacts(self, project: str, count: int = PAGE_SIZE) -> list[SizedArtifact]:
        """The project's `count` most recently pushed artifacts, every repository's, with their
        scan overviews and sizes: one request (Harbor sorts by push time, newest first)."""
        response = self._call(
            "GET",
            f"/projects/{quote(project, safe='')}/artifacts",
            "listArtifactsOfProject",
            f"project {project}",
            params={
                "page": "1",
                "page_size": str(max(1, min(count, PAGE_SIZE))),
                "with_tag": "false",
                "with_scan_overview": "true",
            },
            headers={
                "X-Is-Resource-Name": "true",
                "X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES,
            },
        )
        items = self._list(response, "listArtifactsOfProject")
        return [parse_sized_artifact(item, project) for item in items]

    # -- branch-build cleanup (and rescans) ---------------------------------------------------
    def list_repositories(self, project: str) -> Iterator[str]:
        """The names (without the project) of every repository in the project, page by page."""
        for item in self._pages(
            f"/projects/{quote(project, safe='')}/repositories",
            "listRepositories",
            f"repositories of project {project}",
        ):
            name = str(item.get("name") or "")
            if name.startswith(project + "/"):
                yield name[len(project) + 1 :]

    def list_labelled_artifacts(
        self, project: str, repository: str
    ) -> Iterator[tuple[Artifact, dict[str, str]]]:
        """Every artifact of the repository with its tags and its image config's labels
        (`extra_attrs.config.Labels`), page by page."""
        for item in self._pages(
            f"{self._repo_path(project, repository)}/artifacts",
            "listArtifacts",
            f"repository {project}/{repository}",
            params={"with_tag": "true"},
        ):
            yield parse_artifact(item), parse_labels(item)

    def delete_artifact(self, project: str, repository: str, reference: str) -> None:
        """Deletes the artifact with its tags and accessories (e.g. the cosign signature)."""
        self._call(
            "DELETE",
            self._artifact_path(project, repository, reference),
            "deleteArtifact",
            f"artifact {project}/{repository}@{reference}",
        )


def parse_labels(body: Mapping[str, Any]) -> dict[str, str]:
    """The image config's labels Harbor shows in `extra_attrs.config.Labels`."""
    labels = _mapping(_mapping(_mapping(body.get("extra_attrs")).get("config")).get("Labels"))
    return {str(k): str(v) for k, v in labels.items() if isinstance(v, str)}


@dataclass(frozen=True)
class SizedArtifact:
    """An artifact seen from its project: which repository holds it, and its size in bytes."""

    repository: str  # without the project
    size: int
    artifact: Artifact


def parse_sized_artifact(body: Mapping[str, Any], project: str) -> SizedArtifact:
    return SizedArtifact(
        repository=str(body.get("repository_name") or "").removeprefix(f"{project}/"),
        size=_int(body.get("size")),
        artifact=parse_artifact(body),
    )
