"""The waiting logic against a simulated Harbor and clock (behaviour, not wall-clock time)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from k1s0_action.errors import HarborError
from k1s0_action.harbor import Artifact, ScanOverview, SizedArtifact
from k1s0_action.scanwait import (
    MAX_INTERVAL,
    MIN_INTERVAL,
    WaitSettings,
    expected_duration,
    next_interval,
    project_estimate,
    wait_for_scan,
)

DIGEST = "sha256:" + "d" * 64
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class SimulatedHarbor:
    """A scan that is queued until `starts`, runs `duration`, then ends in `outcome`."""

    starts: float | None  # None: never starts on its own (no scan on push)
    duration: float
    outcome: str = "Success"
    answer_time: float = 0.01
    history: tuple[float, ...] = ()
    # Other repositories' scans: (duration, size); this artifact's size is `size`.
    project_history: tuple[tuple[float, int], ...] | None = ()  # None: the listing fails
    size: int = 1000
    stale: ScanOverview | None = None  # shown until the scan starts (a rescan's predecessor)
    now: float = 0.0
    polls: list[float] = field(default_factory=list)
    scan_requests: int = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    def get_artifact(self, project: str, repository: str, reference: str) -> Artifact:
        self.now += self.answer_time
        self.polls.append(self.now)
        return Artifact(1, reference, 1, ("t",), self._overview())

    def _overview(self) -> ScanOverview | None:
        if self.starts is None or self.now < self.starts:
            return self.stale
        if self.now < self.starts + self.duration:
            return ScanOverview("Running")
        return ScanOverview(self.outcome)

    def start_scan(self, project: str, repository: str, reference: str) -> bool:
        self.scan_requests += 1
        if self.starts is not None and self.now >= self.starts:
            return False
        self.starts = self.now
        return True

    def list_artifacts(self, project: str, repository: str) -> Iterable[Artifact]:
        for number, took in enumerate(self.history):
            end = T0 + timedelta(minutes=number)
            yield Artifact(
                number + 2,
                f"sha256:{number}",
                1,
                (),
                ScanOverview("Success", start_time=end - timedelta(seconds=took), end_time=end),
            )

    def recent_project_artifacts(self, project: str, count: int) -> Sequence[SizedArtifact]:
        if self.project_history is None:
            raise HarborError("Harbor has no project artifact list (404)")
        own = SizedArtifact("svc", self.size, Artifact(1, DIGEST, 1, (), None))
        others = [
            SizedArtifact(f"other{number}", size, success(f"sha256:o{number}", took, number))
            for number, (took, size) in enumerate(self.project_history)
        ]
        return [own, *others][:count]

    @property
    def finished_at(self) -> float:
        assert self.starts is not None
        return self.starts + self.duration


def success(digest: str, took: float, minute: int) -> Artifact:
    end = T0 + timedelta(minutes=minute)
    return Artifact(
        1,
        digest,
        1,
        (),
        ScanOverview("Success", start_time=end - timedelta(seconds=took), end_time=end),
    )


def run(harbor: SimulatedHarbor, timeout: float = 600, auto_scan: bool = True):  # type: ignore[no-untyped-def]
    return wait_for_scan(
        harbor,
        "p",
        "svc",
        DIGEST,
        WaitSettings(timeout=timeout, auto_scan=auto_scan, grace=5.0, stale=harbor.stale),
        lambda _: None,
        clock=harbor.clock,
        sleep=harbor.sleep,
    )


@pytest.mark.parametrize(
    ("duration", "history", "max_delay", "max_polls"),
    [
        (2, (), 1.0, 12),
        (2, (2.0,), 0.5, 8),
        (20, (20.0, 21.0, 19.5), 0.6, 16),
        (120, (), 30.0, 30),
        (120, (120.0,), 0.5, 30),
        (120, (60.0,), 16.0, 30),  # history wrong by half: still within the budget
    ],
)
def test_notices_success_quickly_with_few_polls(
    duration: float, history: tuple[float, ...], max_delay: float, max_polls: int
) -> None:
    harbor = SimulatedHarbor(starts=0.5, duration=duration, history=history)
    result = run(harbor)
    assert result.status == "Success"
    assert not result.triggered
    assert harbor.now - harbor.finished_at <= max_delay
    assert result.polls <= max_polls


def test_scan_is_started_when_none_shows_up_within_the_grace_period() -> None:
    harbor = SimulatedHarbor(starts=None, duration=3)
    result = run(harbor)
    assert result.status == "Success"
    assert result.triggered
    assert harbor.scan_requests == 1
    assert harbor.finished_at >= 5.0


def test_scan_is_started_at_once_when_the_project_does_not_scan_on_push() -> None:
    harbor = SimulatedHarbor(starts=None, duration=1)
    result = run(harbor, auto_scan=False)
    assert result.triggered and harbor.scan_requests == 1
    assert harbor.starts is not None and harbor.starts < 0.1


def test_already_running_scan_409_is_fine() -> None:
    harbor = SimulatedHarbor(starts=0.0, duration=1)
    result = run(harbor, auto_scan=False)
    assert result.status == "Success" and harbor.scan_requests == 1


@pytest.mark.parametrize("outcome", ["Error", "Stopped"])
def test_final_failure_statuses_end_the_wait(outcome: str) -> None:
    result = run(SimulatedHarbor(starts=0.0, duration=4, outcome=outcome))
    assert result.status == outcome and not result.timed_out


def test_stuck_scan_times_out_at_the_deadline() -> None:
    harbor = SimulatedHarbor(starts=0.0, duration=10_000)
    result = run(harbor, timeout=60)
    assert result.timed_out and result.status == "Timeout"
    assert 60 <= harbor.now <= 61


def test_polls_never_come_faster_than_the_server_answers() -> None:
    harbor = SimulatedHarbor(starts=0.0, duration=30, answer_time=2.0)
    run(harbor)
    gaps = [b - a for a, b in zip(harbor.polls, harbor.polls[1:], strict=False)]
    assert min(gaps) >= 2 * 2.0


@pytest.mark.parametrize(
    ("elapsed", "expected", "answer", "interval"),
    [
        (0.0, None, 0.01, MIN_INTERVAL),
        (40.0, None, 0.01, 10.0),
        (1000.0, None, 0.01, MAX_INTERVAL),
        (100.0, 120.0, 0.01, 10.0),
        (119.9, 120.0, 0.01, MIN_INTERVAL),
        (119.9, 120.0, 1.5, 1.5),
        (130.0, 120.0, 0.01, 5.0),
    ],
)
def test_next_interval(
    elapsed: float, expected: float | None, answer: float, interval: float
) -> None:
    assert next_interval(elapsed, expected, answer) == pytest.approx(interval)


def test_expected_duration_is_the_median_of_recent_successes_of_other_digests() -> None:
    def art(digest: str, status: str, took: float, minute: int) -> Artifact:
        end = T0 + timedelta(minutes=minute)
        return Artifact(
            1,
            digest,
            1,
            (),
            ScanOverview(status, start_time=end - timedelta(seconds=took), end_time=end),
        )

    artifacts = [
        art("a", "Success", 10, 1),
        art("b", "Success", 12, 2),
        art("c", "Error", 99, 3),
        art(DIGEST, "Success", 50, 4),
        art("d", "Success", 30, 0),
        Artifact(1, "e", 1, (), None),
    ]
    assert expected_duration(artifacts, DIGEST) == 12
    assert expected_duration([], DIGEST) is None


@pytest.mark.parametrize(
    ("starts", "auto_scan", "status", "max_now"),
    [
        (None, False, "None", 0.1),  # no scan on push: nothing to wait for
        (None, True, "None", 6.0),  # scan on push: the grace period, then nothing
        (2.0, True, "Success", 10.0),  # a scan on push that shows up is waited for
        (0.0, False, "Success", 10.0),  # a running scan is waited for
    ],
)
def test_without_start_no_scan_is_ever_requested(
    starts: float | None, auto_scan: bool, status: str, max_now: float
) -> None:
    harbor = SimulatedHarbor(starts=starts, duration=3)
    result = wait_for_scan(
        harbor,
        "p",
        "svc",
        DIGEST,
        WaitSettings(timeout=600, auto_scan=auto_scan, grace=5.0, start=False),
        lambda _: None,
        clock=harbor.clock,
        sleep=harbor.sleep,
    )
    assert harbor.scan_requests == 0 and not result.triggered
    assert (result.status, result.timed_out) == (status, False)
    assert harbor.now <= max_now


@pytest.mark.parametrize(
    ("duration", "project_history", "size", "max_delay", "max_polls", "source"),
    [
        (120, (), 1000, 30.0, 30, ""),  # nothing scanned anywhere yet: today's behaviour
        (120, None, 1000, 30.0, 30, ""),  # the project listing fails: the same
        (120, ((120.0, 1000),), 1000, 0.5, 30, "project"),
        (20, ((19.0, 1000), (21.0, 1000), (20.0, 1000)), 1000, 0.5, 20, "project"),
        (120, ((60.0, 500),), 1000, 0.5, 30, "project"),  # half the size, half the time
    ],
)
def test_a_new_repository_borrows_the_projects_scan_history(
    duration: float,
    project_history: tuple[tuple[float, int], ...] | None,
    size: int,
    max_delay: float,
    max_polls: int,
    source: str,
) -> None:
    harbor = SimulatedHarbor(
        starts=0.5, duration=duration, project_history=project_history, size=size
    )
    result = run(harbor)
    assert result.status == "Success"
    assert result.estimated_from == source
    assert harbor.now - harbor.finished_at <= max_delay
    assert result.polls <= max_polls


def test_the_repositorys_own_history_comes_before_the_projects() -> None:
    harbor = SimulatedHarbor(
        starts=0.5, duration=20, history=(20.0,), project_history=((500.0, 1000),)
    )
    result = run(harbor)
    assert result.estimated_from == "repository" and result.expected == 20


def sized(repository: str, size: int, artifact: Artifact) -> SizedArtifact:
    return SizedArtifact(repository, size, artifact)


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        ([], None),
        ([sized("svc", 1000, Artifact(1, DIGEST, 1, (), None))], None),
        # Another repository's scan, same size: its duration.
        ([sized("a", 1000, success("sha256:a", 30, 1))], 30.0),
        # Twice the size takes twice as long; this artifact's size comes from the listing.
        (
            [
                sized("svc", 2000, Artifact(1, DIGEST, 1, (), None)),
                sized("a", 1000, success("sha256:a", 30, 1)),
            ],
            60.0,
        ),
        # The repository's own scans and failed scans do not count.
        (
            [
                sized("svc", 1000, Artifact(1, DIGEST, 1, (), None)),
                sized("svc", 1000, success("sha256:s", 99, 2)),
                sized("a", 1000, Artifact(3, "sha256:e", 1, (), ScanOverview("Error"))),
                sized("b", 1000, success("sha256:b", 10, 1)),
            ],
            10.0,
        ),
        # The five nearest in size, not the five latest: the big image is left out.
        (
            [
                sized("svc", 1000, Artifact(1, DIGEST, 1, (), None)),
                sized("big", 1_000_000, success("sha256:big", 900, 9)),
                *(sized(f"r{n}", 1000, success(f"sha256:{n}", 10 + n, n)) for n in range(5)),
            ],
            12.0,
        ),
        # Unknown own size: the latest five, unscaled.
        (
            [sized("a", 1000, success(f"sha256:{n}", 10 * (n + 1), n)) for n in range(7)],
            50.0,
        ),
    ],
)
def test_project_estimate(listed: list[SizedArtifact], expected: float | None) -> None:
    assert project_estimate(listed, "svc", DIGEST) == expected


def test_a_rescans_predecessor_is_not_taken_for_the_new_result() -> None:
    old = ScanOverview("Success", end_time=T0)
    harbor = SimulatedHarbor(starts=None, duration=3, stale=old)
    result = run(harbor, auto_scan=False)
    assert result.triggered
    assert result.overview == ScanOverview("Success")
    assert harbor.now >= harbor.finished_at
