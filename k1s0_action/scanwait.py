"""Waiting for Harbor's scan of one digest, with few requests and little delay.

The poll schedule aims at when the scan should end: the durations of the repository's earlier
scans give an estimate, and polls come closer together as that moment approaches (each wait is a
fraction of the time still expected), then spread out again if the scan runs longer. A
repository's first scan borrows the estimate from the project's other repositories: their latest
scans, the ones of the most similar size, each scaled by this artifact's size against theirs. With
no history anywhere the waits grow with the time already spent. A wait is never shorter than the
server's last answer took, and the client honours Retry-After on 429/503.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from k1s0_action.errors import HarborError
from k1s0_action.harbor import Artifact, ScanOverview, SizedArtifact

MIN_INTERVAL = 0.25
MAX_INTERVAL = 15.0
GROWTH = 0.25  # no estimate: wait a quarter of the time spent so far
APPROACH = 0.5  # with an estimate: wait half the distance to the expected end
HISTORY = 5  # earlier scans of the repository (or of the project's others) used for the estimate
PROJECT_WINDOW = 50  # the project's latest artifacts looked at when the repository has no history


class ScanApi(Protocol):
    def get_artifact(self, project: str, repository: str, reference: str) -> Artifact: ...

    def start_scan(self, project: str, repository: str, reference: str) -> bool: ...

    def list_artifacts(self, project: str, repository: str) -> Iterable[Artifact]: ...

    def recent_project_artifacts(self, project: str, count: int) -> Sequence[SizedArtifact]: ...


@dataclass(frozen=True)
class WaitSettings:
    timeout: float
    auto_scan: bool = True
    grace: float = 5.0  # how long a scan-on-push project gets to start its scan
    start: bool = True  # False: never start a scan; with none there is nothing to wait for
    # A rescan's predecessor: while Harbor still shows it, the new scan has not started.
    stale: ScanOverview | None = None


@dataclass(frozen=True)
class WaitResult:
    overview: ScanOverview | None  # the last one seen; None if no scan ever showed up
    timed_out: bool
    triggered: bool  # this run asked Harbor to scan
    polls: int
    expected: float | None
    estimated_from: str = ""  # "repository", "project", or "" without an estimate

    @property
    def status(self) -> str:
        if self.timed_out:
            return "Timeout"
        return self.overview.status if self.overview else "None"


def next_interval(elapsed: float, expected: float | None, last_answer: float) -> float:
    gap = elapsed * GROWTH if expected is None else abs(expected - elapsed) * APPROACH
    return max(MIN_INTERVAL, last_answer, min(MAX_INTERVAL, gap))


def expected_duration(artifacts: Iterable[Artifact], digest: str) -> float | None:
    """The median duration of the repository's latest finished scans, if any."""
    done = sorted(
        (
            (a.scan.end_time, a.scan.duration)
            for a in artifacts
            if a.digest != digest
            and a.scan is not None
            and a.scan.status == "Success"
            and a.scan.end_time is not None
            and a.scan.duration is not None
        ),
        reverse=True,
    )
    durations = [duration for _, duration in done[:HISTORY] if duration is not None]
    return statistics.median(durations) if durations else None


def project_estimate(
    artifacts: Iterable[SizedArtifact], repository: str, digest: str
) -> float | None:
    """For a repository without history: the median of the project's other repositories' latest
    successful scans, the HISTORY closest in size to this artifact, each scaled by its size against
    theirs (scan time grows with what Trivy has to read). Unscaled when this size is unknown."""
    listed = list(artifacts)
    size = next(
        (a.size for a in listed if a.artifact.digest == digest and a.repository == repository), 0
    )
    done = [
        (a.artifact.scan.end_time.timestamp(), float(a.artifact.scan.duration), a.size)
        for a in listed
        if a.repository != repository
        and a.artifact.scan is not None
        and a.artifact.scan.status == "Success"
        and a.artifact.scan.end_time is not None
        and a.artifact.scan.duration is not None
    ]
    if not done:
        return None
    if size <= 0:
        latest = sorted(done, reverse=True)[:HISTORY]
        return statistics.median(duration for _, duration, _ in latest)
    sized = [item for item in done if item[2] > 0]
    if not sized:
        return None
    # Nearest in log-size first, then the most recent.
    sized.sort(key=lambda item: (abs(math.log(item[2] / size)), -item[0]))
    return statistics.median(duration * size / other for _, duration, other in sized[:HISTORY])


def estimate(
    api: ScanApi, project: str, repository: str, digest: str, log: Callable[[str], None]
) -> tuple[float | None, str]:
    expected = expected_duration(api.list_artifacts(project, repository), digest)
    if expected is not None:
        log(f"earlier scans in {project}/{repository} took about {expected:.1f}s")
        return expected, "repository"
    try:
        recent = api.recent_project_artifacts(project, PROJECT_WINDOW)
    except HarborError as error:  # e.g. a Harbor older than the project artifact list
        log(f"no scan history of {project}/{repository}, and the project's: {error.diagnostics()}")
        return None, ""
    expected = project_estimate(recent, repository, digest)
    if expected is None:
        return None, ""
    log(
        f"first scan in {project}/{repository}: the project's other repositories' scans, "
        f"scaled to this image's size, suggest about {expected:.1f}s"
    )
    return expected, "project"


def wait_for_scan(
    api: ScanApi,
    project: str,
    repository: str,
    digest: str,
    settings: WaitSettings,
    log: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    started = clock()
    deadline = started + settings.timeout
    expected, source = estimate(api, project, repository, digest, log)
    triggered = False
    if settings.start and not settings.auto_scan:
        log("the project does not scan on push; starting a scan")
        _trigger(api, project, repository, digest, log)
        triggered = True
    # Elapsed scan time counts from the earliest moment the scan can have started (Harbor's
    # start_time, which earlier durations are measured from, is set when the scan leaves the
    # queue): the push, or the last poll that still saw no scan. Our clock, so skew is no matter.
    origin = last_poll = started
    overview: ScanOverview | None = None
    polls = 0
    while True:
        before = clock()
        artifact = api.get_artifact(project, repository, digest)
        after = clock()
        polls += 1
        seen = overview is not None
        overview = artifact.scan
        if overview is not None and overview == settings.stale:
            overview = None
        if overview is not None and overview.final:
            return WaitResult(overview, False, triggered, polls, expected, source)
        if overview is not None:
            if not seen and polls > 1:
                origin = last_poll
        elif not settings.start:
            # Nothing to wait for, unless a scan-on-push project may still start its scan.
            if not settings.auto_scan or after - started >= settings.grace:
                return WaitResult(None, False, False, polls, expected)
        elif not triggered and after - started >= settings.grace:
            log(f"no scan started within {settings.grace:.0f}s of the push; starting one")
            _trigger(api, project, repository, digest, log)
            triggered = True
        if after >= deadline:
            return WaitResult(overview, True, triggered, polls, expected, source)
        last_poll = before
        wait = next_interval(after - origin, expected, after - before)
        sleep(min(wait, max(0.0, deadline - clock())))


def _trigger(
    api: ScanApi, project: str, repository: str, digest: str, log: Callable[[str], None]
) -> None:
    if not api.start_scan(project, repository, digest):
        log("a scan of this digest is already running (409)")
