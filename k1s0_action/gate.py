"""The scan gate and the promotion that follows it, against Harbor (rule V2, tags T3).

`scan_gate` waits for Harbor's scan of the pushed digest and judges it; `promote` adds the release
tags through Harbor's tag API; `publish` writes the outputs, the job summary and the SARIF file.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import semver

from k1s0_action.errors import HarborError
from k1s0_action.gha import Actions
from k1s0_action.harbor import HarborClient, HarborNotFoundError, Project
from k1s0_action.policy import (
    SEVERITIES,
    Allowlist,
    Decision,
    PolicyConfig,
    decide,
    effective_allowlist,
    warning_lines,
)
from k1s0_action.promotion import LATEST, PromotionPlan, plan_promotion
from k1s0_action.scanreport import ScanReport, Verdict, artifact_url, markdown, sarif
from k1s0_action.scanwait import WaitSettings, wait_for_scan

WARNING_CAP = 10


@dataclass(frozen=True)
class GateSettings:
    timeout: float
    block_severities: tuple[str, ...]
    ignore_cves: tuple[str, ...]
    on_scan_error: str  # fail | warn
    grace: float = 5.0


@dataclass(frozen=True)
class GateResult:
    project: Project
    scan_status: str
    verdict: str
    decision: Decision | None
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict != Verdict.BLOCKED

    @property
    def latest_allowed(self) -> bool:
        return self.verdict == Verdict.PASSED


def _allowlist(client: HarborClient, project: Project) -> Allowlist:
    if project.reuse_system_allowlist:
        return effective_allowlist(project.allowlist, client.system_allowlist(), True)
    return project.allowlist


def scan_gate(
    client: HarborClient,
    project_name: str,
    repository: str,
    digest: str,
    settings: GateSettings,
    actions: Actions,
    now: datetime | None = None,
) -> GateResult:
    project = client.get_project(project_name)
    sent = client.requests_sent
    waited = wait_for_scan(
        client,
        project_name,
        repository,
        digest,
        WaitSettings(timeout=settings.timeout, auto_scan=project.auto_scan, grace=settings.grace),
        actions.info,
    )
    actions.info(
        f"scan status {waited.status} after {waited.polls} polls "
        f"({client.requests_sent - sent} Harbor API requests)"
    )
    overview = waited.overview
    if overview is None or overview.status != "Success" or waited.timed_out:
        why = (
            f"Harbor's scan of {digest} did not finish within {settings.timeout:.0f}s "
            "(input scan-timeout)"
            if waited.timed_out
            else f"Harbor's scan of {digest} ended with status {waited.status}"
        )
        if settings.on_scan_error == "warn":
            note = f"{why}; passing without a verdict (on-scan-error: warn), latest not moved"
            actions.warning(note, title="Scan incomplete")
            return GateResult(project, waited.status, Verdict.INCOMPLETE, None, note)
        note = f"{why}; failing closed (set on-scan-error: warn to pass without a verdict)"
        return GateResult(project, waited.status, Verdict.BLOCKED, None, note)

    findings = client.vulnerabilities(project_name, repository, digest)
    decision = decide(
        findings,
        _allowlist(client, project),
        PolicyConfig(
            block_severities=frozenset(settings.block_severities),
            ignore_cves=frozenset(settings.ignore_cves),
        ),
        now or datetime.now(UTC),
    )
    for line in warning_lines(decision, WARNING_CAP):
        actions.warning(line, title="Medium vulnerability")
    for cve in decision.ignore_cves_used:
        actions.notice(f"{cve} allowed for this run by the ignore-cves input", title="CVE ignored")
    if decision.passed:
        return GateResult(project, overview.status, Verdict.PASSED, decision)
    blocking = decision.blocking
    shown = ", ".join(f"{j.finding.id} ({j.finding.severity})" for j in blocking[:5])
    more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
    note = (
        f"{len(blocking)} blocking vulnerabilities ({shown}{more}); "
        "fix them, or allow them in Harbor's CVE allowlist or the ignore-cves input"
    )
    return GateResult(project, overview.status, Verdict.BLOCKED, decision, note)


def remove_blocked(
    client: HarborClient, project: str, repository: str, digest: str, tag: str, actions: Actions
) -> None:
    try:
        client.delete_tag(project, repository, digest, tag)
        actions.info(f"removed the tag {tag} of the blocked image (keep-blocked: false)")
    except HarborError as error:
        actions.warning(f"could not remove the tag {tag} of the blocked image: {error}")


def repository_tags(client: HarborClient, project: str, repository: str) -> dict[str, str]:
    return {
        tag: artifact.digest
        for artifact in client.list_artifacts(project, repository)
        for tag in artifact.tags
    }


def promote(
    client: HarborClient,
    image: str,
    project: str,
    repository: str,
    digest: str,
    plan: PromotionPlan,
    actions: Actions,
) -> None:
    for move in plan.add:
        if move.tag == LATEST and move.previous_digest:
            # Harbor refuses a tag that exists in the repository, so `latest` leaves first.
            # Gone already means someone else moved it meanwhile; creating it below settles it.
            with contextlib.suppress(HarborNotFoundError):
                client.delete_tag(project, repository, move.previous_digest, LATEST)
        client.create_tag(project, repository, digest, move.tag)
        actions.info(f"promoted {image}:{move.tag} -> {digest}")
    for tag, reason in plan.skipped:
        actions.info(f"not promoting {tag}: {reason}")


def plan_release_tags(
    client: HarborClient,
    image: str,
    project: str,
    repository: str,
    digest: str,
    version: semver.Version | None,
    wanted: tuple[str, ...],
    gate: GateResult,
) -> PromotionPlan:
    return plan_promotion(
        image,
        version,
        wanted,
        digest,
        repository_tags(client, project, repository) if wanted else {},
        latest_allowed=gate.latest_allowed,
        latest_withheld_reason="the scan did not complete (on-scan-error: warn)",
    )


def counts(decision: Decision | None) -> dict[str, int]:
    found: Mapping[str, int] = decision.found_by_severity() if decision else {}
    return {severity: found.get(severity, 0) for severity in SEVERITIES if severity != "none"}


def publish(
    actions: Actions,
    report: ScanReport,
    sarif_location: str,
) -> None:
    path = actions.write_workspace_file(
        f"k1s0-image-scan-{report.digest.removeprefix('sha256:')[:12]}.sarif",
        json.dumps(sarif(report, sarif_location), indent=2),
    )
    actions.set_output("scan-status", report.scan_status)
    actions.set_output("vulnerabilities", counts(report.decision))
    actions.set_output("blocked", report.verdict == Verdict.BLOCKED)
    actions.set_output("sarif-file", str(path))
    actions.summary(markdown(report))


def report_for(
    image: str,
    digest: str,
    harbor_url: str,
    repository: str,
    gate: GateResult,
    promoted: tuple[str, ...],
    withheld: tuple[tuple[str, str], ...],
) -> ScanReport:
    return ScanReport(
        image=image,
        digest=digest,
        scan_status=gate.scan_status,
        verdict=gate.verdict,
        decision=gate.decision,
        artifact_url=artifact_url(harbor_url, gate.project.id, repository, digest),
        promoted=promoted,
        withheld=withheld,
        note=gate.note,
    )
