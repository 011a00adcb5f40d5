"""The scan gate against Harbor (rule V2): wait for the scan of the pushed digest, then judge it.

`scan_gate` does the I/O (project, scan, report, allowlists) and `judge` decides from what came
back, without I/O. The verdict is returned with its warnings and notices as data; the caller
shows them. `preflight` checks, before anything is built, that the robot can read what the gate
needs. `publish` writes the outputs, the job summary and the SARIF file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from k1s0_action.evidence import Reports, contradictions
from k1s0_action.harbor import (
    HarborClient,
    HarborNotFoundError,
    HarborPermissionError,
    Project,
    ScanOverview,
)
from k1s0_action.policy import (
    Allowlist,
    Decision,
    PolicyConfig,
    decide,
    effective_allowlist,
    warning_lines,
)
from k1s0_action.scanreport import Verdict
from k1s0_action.scanwait import WaitSettings, wait_for_scan

WARNING_CAP = 10
Log = Callable[[str], None]


@dataclass(frozen=True)
class GateSettings:
    timeout: float
    block_severities: tuple[str, ...]
    ignore_cves: tuple[str, ...]
    on_scan_error: str  # fail | warn
    grace: float = 5.0
    start_scan: bool = True  # False: judge only a scan that exists (`k1s0-image gate`)


@dataclass(frozen=True)
class Annotation:
    title: str
    message: str


@dataclass(frozen=True)
class GateResult:
    project: Project
    scan_status: str
    verdict: Verdict
    decision: Decision | None
    note: str = ""
    warnings: tuple[Annotation, ...] = ()
    notices: tuple[Annotation, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict != Verdict.BLOCKED

    @property
    def latest_allowed(self) -> bool:
        return self.verdict == Verdict.PASSED


def preflight(client: HarborClient, project_name: str, repository: str) -> Project:
    """What the gate reads, tried before the build: the project (project:read) and the
    repository's artifacts (artifact:list). A 403 names the missing permission."""
    try:
        project = client.get_project(project_name)
    except HarborPermissionError as error:
        owner = _ROBOT_PROJECT.match(client.username)
        if owner and owner.group(1) != project_name:
            raise HarborPermissionError(
                f"robot account '{client.username}' belongs to project {owner.group(1)}, not "
                f"{project_name}: use a robot account of {project_name} (harbor-username)"
            ) from None
        raise error from None
    # A first push: the repository does not exist yet (404 after the permission check).
    with contextlib.suppress(HarborNotFoundError):
        next(iter(client.list_artifacts(project_name, repository)), None)
    return project


_ROBOT_PROJECT = re.compile(r"^[^$]*\$([^+]+)\+")  # robot$<project>+<name>, any prefix
SYSTEM_UNREADABLE = (
    "the robot account cannot read Harbor's system CVE allowlist (403), which this project "
    "uses; judging without any allowlist"
)


def judge(
    project: Project,
    system: Allowlist | None,
    overview: ScanOverview | None,
    timed_out: bool,
    reports: Reports | None,
    settings: GateSettings,
    now: datetime,
) -> GateResult:
    """The verdict from what Harbor answered (no I/O). `system` is the system allowlist, None
    when it was not read; `reports` is needed only for a finished, successful scan."""
    status = "Timeout" if timed_out else overview.status if overview else "None"
    if overview is None or overview.status != "Success" or timed_out or reports is None:
        if timed_out:
            why = (
                f"Harbor's scan did not finish within {settings.timeout:.0f}s (input scan-timeout)"
            )
        elif overview is None:
            why = "Harbor has no scan of this digest"
        else:
            why = f"Harbor's scan ended with status {status}"
        if settings.on_scan_error == "warn":
            note = f"{why}; passing without a verdict (on-scan-error: warn), latest not moved"
            return GateResult(
                project,
                status,
                Verdict.INCOMPLETE,
                None,
                note,
                warnings=(Annotation("Scan incomplete", note),),
            )
        note = f"{why}; failing closed (set on-scan-error: warn to pass without a verdict)"
        return GateResult(project, status, Verdict.BLOCKED, None, note)
    notices: list[Annotation] = []
    if project.reuse_system_allowlist and system is None:
        notices.append(Annotation("CVE allowlist", SYSTEM_UNREADABLE))
    decision = decide(
        reports.findings(),
        effective_allowlist(project.allowlist, system, project.reuse_system_allowlist),
        PolicyConfig(
            block_severities=frozenset(settings.block_severities),
            ignore_cves=frozenset(settings.ignore_cves),
        ),
        now,
        defects=contradictions(overview.claims, reports),
    )
    warnings = tuple(
        Annotation("Medium vulnerability", line) for line in warning_lines(decision, WARNING_CAP)
    )
    notices += [
        Annotation("CVE ignored", f"{cve} allowed for this run by the ignore-cves input")
        for cve in decision.ignore_cves_used
    ]
    if decision.passed:
        return GateResult(project, status, Verdict.PASSED, decision, "", warnings, tuple(notices))
    parts = []
    blocking = decision.blocking
    if blocking:
        shown = ", ".join(j.finding.label for j in blocking[:5])
        more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        expired = decision.expired_allowlist
        parts.append(
            f"{len(blocking)} blocking vulnerabilities ({shown}{more}); "
            "fix them, or allow them in Harbor's CVE allowlist or the ignore-cves input"
            + (
                f" (the {expired.source} CVE allowlist names some but expired at "
                f"{expired.expiry_text()})"
                if expired
                else ""
            )
        )
    if decision.defects:
        more = f" (and {len(decision.defects) - 1} more)" if len(decision.defects) > 1 else ""
        parts.append(
            f"Harbor's scan answers do not add up: {decision.defects[0]}{more}; "
            "failing closed: re-run the scan in Harbor, then the job"
        )
    note = "; ".join(parts)
    return GateResult(project, status, Verdict.BLOCKED, decision, note, warnings, tuple(notices))


def system_allowlist(client: HarborClient, project: Project) -> Allowlist | None:
    """The system CVE allowlist when the project uses it and the robot may read it, else None
    (`judge` then applies no list: stricter, never looser)."""
    if not project.reuse_system_allowlist:
        return None
    try:
        return client.system_allowlist()
    except HarborPermissionError:
        return None


def scan_gate(
    client: HarborClient,
    project_name: str,
    repository: str,
    digest: str,
    settings: GateSettings,
    log: Log,
    now: datetime | None = None,
) -> GateResult:
    project = client.get_project(project_name)
    sent = client.requests_sent
    waited = wait_for_scan(
        client,
        project_name,
        repository,
        digest,
        WaitSettings(
            timeout=settings.timeout,
            auto_scan=project.auto_scan,
            grace=settings.grace,
            start=settings.start_scan,
        ),
        log,
    )
    estimate = f"; expected ~{waited.expected:.0f}s from earlier scans" if waited.expected else ""
    log(
        f"scan status {waited.status} after {waited.polls} polls "
        f"({client.requests_sent - sent} Harbor API requests{estimate})"
    )
    overview = waited.overview
    reports: Reports | None = None
    system: Allowlist | None = None
    if overview is not None and overview.status == "Success" and not waited.timed_out:
        reports = client.vulnerability_reports(project_name, repository, digest)
        log(
            f"Harbor reports {overview.total} vulnerabilities (overall severity "
            f"{overview.severity or 'none'}); the report lists {len(reports.findings())}"
        )
        system = system_allowlist(client, project)
        log(
            "CVE allowlist: "
            + (
                "the system's (the project reuses it)"
                if project.reuse_system_allowlist
                else f"the project's own ({project.name})"
            )
        )
    return judge(
        project,
        system,
        overview,
        waited.timed_out,
        reports,
        settings,
        now or datetime.now(UTC),
    )
