"""Re-judging released images (`k1s0-image rescan`): new CVEs appear after release.

Walks the layer projects, takes the artifacts that can be deployed (a release tag `X.Y.Z`, or a
pre-release version, or `latest`), has Harbor rescan them unless a scan newer than `max_age`
exists, and judges each report with the gate's own rule (`gate.judge`: the project's effective
CVE allowlist, the same severities and ignore list, Harbor's overview checked against its
report). It never moves or deletes a tag.

Selection, the verdict and the table are pure; `rescan` does the Harbor I/O.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import semver

from k1s0_action.errors import InputError
from k1s0_action.gate import GateSettings, judge, system_allowlist
from k1s0_action.harbor import (
    Artifact,
    HarborClient,
    HarborNotFoundError,
    HarborPermissionError,
    Project,
    ScanOverview,
)
from k1s0_action.policy import Allowlist, Decision
from k1s0_action.promotion import LATEST
from k1s0_action.scanwait import WaitSettings, wait_for_scan

_PUSH_TAG = re.compile(r"^(?P<version>.+)-[0-9a-f]{7}$")  # <version>-<sha7>, the build tag
_AGE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[smhd]?)$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_age(name: str, value: str) -> float:
    """Seconds from `90`, `30m`, `24h` or `7d`; 0 means: always rescan."""
    found = _AGE.match(value.strip().lower())
    if not found:
        raise InputError(name, f"'{value}' is not a duration; use e.g. 24h, 30m, 7d or seconds")
    return float(found["number"]) * _UNITS[found["unit"]]


def _is_version(text: str) -> bool:
    try:
        version = semver.Version.parse(text)
    except ValueError:
        return False
    return not version.build


def deployable_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """The tags a deployment can name: `latest` and release versions (not `<version>-<sha7>`)."""
    found = []
    for tag in tags:
        if tag == LATEST:
            found.append(tag)
            continue
        build = _PUSH_TAG.match(tag)
        if _is_version(tag) and not (build and _is_version(build["version"])):
            found.append(tag)
    return tuple(sorted(found, key=lambda t: (t != LATEST, t)))


@dataclass(frozen=True)
class Target:
    project: str
    repository: str  # without the project
    digest: str
    tags: tuple[str, ...]  # its deployable tags
    scan: ScanOverview | None  # the scan Harbor had before this run

    @property
    def image(self) -> str:
        return f"{self.project}/{self.repository}"


def targets(project: str, repository: str, artifacts: Iterable[Artifact]) -> list[Target]:
    return [
        Target(project, repository, a.digest, tags, a.scan)
        for a in artifacts
        if (tags := deployable_tags(a.tags))
    ]


def fresh(scan: ScanOverview | None, now: datetime, max_age: float) -> bool:
    """A finished, successful scan younger than max_age can be judged as it is."""
    return (
        max_age > 0
        and scan is not None
        and scan.status == "Success"
        and scan.end_time is not None
        and now - scan.end_time <= timedelta(seconds=max_age)
    )


@dataclass(frozen=True)
class RescanSettings:
    projects: tuple[str, ...]
    max_age: float  # seconds
    timeout: float  # seconds to wait for each scan
    block_severities: tuple[str, ...]
    ignore_cves: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    target: Target
    scan_status: str
    rescanned: bool  # False: a scan newer than max_age was judged
    decision: Decision | None  # None: the scan did not finish successfully
    # Finding ids the report before this rescan listed; None when no rescan ran or none existed.
    earlier: frozenset[str] | None = None
    note: str = ""

    @property
    def blocking(self) -> tuple[str, ...]:
        if self.decision is None:
            return ()
        return tuple(dict.fromkeys(j.finding.id for j in self.decision.blocking))

    @property
    def first_seen(self) -> tuple[str, ...]:
        """Blocking ids that the report before this rescan did not list."""
        if self.earlier is None:
            return ()
        return tuple(cve for cve in self.blocking if cve not in self.earlier)

    @property
    def failed(self) -> bool:
        """Blocking findings, or no verdict at all (failing closed, as the gate does)."""
        return self.decision is None or not self.decision.passed


@dataclass(frozen=True)
class RescanReport:
    outcomes: tuple[Outcome, ...]
    skipped: tuple[str, ...] = ()  # projects that do not exist
    # Projects the credential may not read (Harbor answers 403, existing or not): their images
    # were not judged, so the run fails closed rather than report them as clean.
    unreadable: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.unreadable) or any(o.failed for o in self.outcomes)


def rescan(
    client: HarborClient,
    settings: RescanSettings,
    log: Callable[[str], None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RescanReport:
    config = GateSettings(
        timeout=settings.timeout,
        block_severities=settings.block_severities,
        ignore_cves=settings.ignore_cves,
        on_scan_error="fail",
    )
    outcomes: list[Outcome] = []
    skipped: list[str] = []
    unreadable: list[str] = []
    for name in settings.projects:
        try:
            project = client.get_project(name)
        except HarborNotFoundError:
            log(f"no project {name} in Harbor; skipped")
            skipped.append(name)
            continue
        except HarborPermissionError:
            log(f"project {name}: the credential may not read it (403); its images are not judged")
            unreadable.append(name)
            continue
        system = system_allowlist(client, project)
        found = [
            target
            for repository in client.list_repositories(name)
            for target in targets(name, repository, client.list_artifacts(name, repository))
        ]
        log(f"{name}: {len(found)} deployable digests")
        started = now()
        earlier: dict[Target, frozenset[str] | None] = {}
        for target in found:
            if fresh(target.scan, started, settings.max_age):
                continue
            # The report is replaced by the rescan's, so what it listed is read first; every
            # rescan is asked for before waiting, so that Harbor's scanners work side by side.
            earlier[target] = _report_ids(client, target)
            if not client.start_scan(target.project, target.repository, target.digest):
                log(f"{target.image}@{target.digest}: a scan is already running (409)")
        for target in found:
            if target not in earlier:
                outcomes.append(
                    _judge(client, project, system, target, target.scan, False, None, config, now)
                )
                continue
            waited = wait_for_scan(
                client,
                target.project,
                target.repository,
                target.digest,
                WaitSettings(timeout=settings.timeout, auto_scan=True, stale=target.scan),
                log,
                clock=clock,
                sleep=sleep,
            )
            if waited.timed_out or waited.overview is None or waited.overview.status != "Success":
                note = f"the rescan ended with status {waited.status}"
                outcomes.append(Outcome(target, waited.status, True, None, earlier[target], note))
                continue
            outcomes.append(
                _judge(
                    client,
                    project,
                    system,
                    target,
                    waited.overview,
                    True,
                    earlier[target],
                    config,
                    now,
                )
            )
    return RescanReport(tuple(outcomes), tuple(skipped), tuple(unreadable))


def _report_ids(client: HarborClient, target: Target) -> frozenset[str] | None:
    if target.scan is None or target.scan.status != "Success":
        return None
    return frozenset(
        f.id for f in client.vulnerabilities(target.project, target.repository, target.digest)
    )


def _judge(
    client: HarborClient,
    project: Project,
    system: Allowlist | None,
    target: Target,
    overview: ScanOverview | None,
    rescanned: bool,
    earlier: frozenset[str] | None,
    settings: GateSettings,
    now: Callable[[], datetime],
) -> Outcome:
    """The gate's own rule (`gate.judge`): the same allowlists, threshold and fail-closed checks
    of Harbor's overview against its report."""
    reports = client.vulnerability_reports(target.project, target.repository, target.digest)
    result = judge(project, system, overview, False, reports, settings, now())
    status = overview.status if overview else "None"
    return Outcome(target, status, rescanned, result.decision, earlier, result.note)


def render_table(report: RescanReport) -> str:
    """Markdown: one row per deployable digest, failing ones first. Every blocking finding of a
    released digest is new since its release (the gate let it through); the ones the previous
    report did not list yet are marked."""
    lines = ["## Rescan of deployable images", ""]
    blocked = [o for o in report.outcomes if o.failed]
    lines.append(
        f"{len(report.outcomes)} deployable digests judged, {len(blocked)} now failing the gate."
        if report.outcomes
        else "No deployable digests found."
    )
    if report.skipped:
        lines.append(f"Projects not in Harbor: {', '.join(report.skipped)}.")
    if report.unreadable:
        lines.append(
            f"Not judged, the credential may not read them (403): {', '.join(report.unreadable)}; "
            "pass only the layers it may read (--layers), or a credential that reads them all."
        )
    if report.outcomes:
        lines += [
            "",
            "| Image | Tags | Digest | Scan | New blocking findings since release |",
            "|---|---|---|---|---|",
        ]
        for o in sorted(report.outcomes, key=lambda o: (not o.failed, o.target.image)):
            scan = ("rescanned" if o.rescanned else "recent scan") + (
                "" if o.decision else f": {o.scan_status}"
            )
            first = set(o.first_seen)
            blocking = ", ".join(f"{cve} 🆕" if cve in first else cve for cve in o.blocking)
            lines.append(
                f"| `{o.target.image}` | {', '.join(f'`{t}`' for t in o.target.tags)} "
                f"| `{o.target.digest.removeprefix('sha256:')[:12]}` | {scan} "
                f"| {_cell(blocking or ('none' if o.decision else o.note or 'no verdict'))} |"
            )
        if any(o.first_seen for o in report.outcomes):
            lines += ["", "🆕 not in the report before this rescan."]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).replace("|", "\\|")


def images(report: RescanReport) -> dict[str, Sequence[Outcome]]:
    """Outcomes by image (project/repository), for one issue per image."""
    found: dict[str, list[Outcome]] = {}
    for outcome in report.outcomes:
        found.setdefault(outcome.target.image, []).append(outcome)
    return dict(found)
