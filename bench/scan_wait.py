"""Benchmark: how soon the action notices a finished Harbor scan, and how many requests it costs.

Run on purpose (not a test), with the Docker engine up:

    . scripts/env.sh && PYTHONPATH=$PWD python bench/scan_wait.py [--samples 2:8,20:4,120:3]

For scans lasting about 2 s, 20 s and 120 s (the local server's scan duration control), it pushes
fresh digests into a new project per scan length and waits for their scans three at a time, in
parallel: with the action's adaptive wait (`k1s0_action.scanwait`) in one repository, with the
adaptive wait in a new repository every round, and with a fixed 5 s poll, as peer actions do. So
the adaptive wait is measured with no history at all (round 1, an empty project: a brand-new
Harbor), with the repository's own history (later rounds) and with only the project's other
repositories' history (new repositories in later rounds). The delay is the time between the
server's `end_time` of the Success and the moment the waiter returns; requests are the Harbor API
requests the waiter sent (the adaptive one includes its history lookups).
Targets: p95 delay <= 0.5 s; <= 30 requests for the 120 s scan.
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker

from k1s0_action import engine
from k1s0_action.harbor import HarborClient, ScanOverview
from k1s0_action.scanwait import WaitResult, WaitSettings, wait_for_scan
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.testimages import build_test_image

FIXED_POLL = 5.0
PREFIX = "bench-scanwait"


@dataclass(frozen=True)
class Sample:
    delay: float
    requests: int
    history: str  # what the waiter estimated from: "repository", "project", "none"; "-"


def fixed_poll(client: HarborClient, project: str, repository: str, digest: str) -> object:
    """What the peers do: ask every 5 s until the scan is final."""
    while True:
        scan = client.get_artifact(project, repository, digest).scan
        if scan is not None and scan.final:
            return None
        time.sleep(FIXED_POLL)


def measure(
    harbor: LocalHarbor,
    robot: tuple[str, str],
    project: str,
    repository: str,
    digest: str,
    waiter: Callable[[HarborClient, str, str, str], object],
) -> Sample:
    client = HarborClient(harbor.url, *robot)
    result = waiter(client, project, repository, digest)
    noticed = time.time()
    scan = client.get_artifact(project, repository, digest).scan  # not counted: measurement only
    sent = client.requests_sent - 1
    assert isinstance(scan, ScanOverview) and scan.status == "Success" and scan.end_time
    known = (result.estimated_from or "none") if isinstance(result, WaitResult) else "-"
    return Sample(noticed - scan.end_time.timestamp(), sent, known)


def adaptive(client: HarborClient, project: str, repository: str, digest: str) -> object:
    return wait_for_scan(
        client, project, repository, digest, WaitSettings(timeout=900), lambda _: None
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[rank]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", default="2:8,20:5,120:4", help="duration:rounds,...")
    args = parser.parse_args()
    plan = [(float(d), int(n)) for d, n in (item.split(":") for item in args.samples.split(","))]

    api = docker.APIClient(version="auto")
    with tempfile.TemporaryDirectory(prefix=PREFIX) as tmp:
        harbor = LocalHarbor(data_dir=Path(tmp) / "harbor", validate=False).start()
        try:
            run(harbor, api, plan)
        finally:
            harbor.stop()


# waiter name -> (how it waits, whether it takes a new repository every round)
WAITERS: dict[str, tuple[Callable[[HarborClient, str, str, str], object], bool]] = {
    "adaptive": (adaptive, False),
    "adaptive, new repository": (adaptive, True),
    "fixed 5 s": (fixed_poll, False),
}


@dataclass(frozen=True)
class Bench:
    harbor: LocalHarbor
    api: docker.APIClient
    project: str
    robot: tuple[str, str]
    base: str

    def push_fresh(self, repository: str, number: int, duration: float) -> str:
        """Pushes a new digest (the base plus a label) with the scan set to last `duration`."""
        self.harbor.set_scan_behaviour(
            repository=f"{self.project}/{repository}", outcome="success", duration=duration
        )
        image = f"{self.harbor.registry_host}/{self.project}/{repository}"
        dockerfile = f"FROM {self.base}\nLABEL bench.n={number}\n".encode()
        for _chunk in self.api.build(
            fileobj=io.BytesIO(dockerfile), tag=f"{image}:n{number}", rm=True, decode=True
        ):
            pass
        creds = engine.Credentials(self.harbor.registry_host, *self.robot)
        return engine.push(self.api, image, f"n{number}", creds, lambda _: None)

    def round(self, duration: float, number: int, index: int) -> dict[str, Sample]:
        """One scan per waiter, waited for in parallel."""
        found: dict[str, Sample] = {}
        threads = []
        for offset, (name, (waiter, new_repository)) in enumerate(WAITERS.items()):
            repository = f"{name.split()[0].rstrip(',')}-{int(duration)}s"
            repository += f"-r{index}" if new_repository else ""
            digest = self.push_fresh(repository, number + offset, duration)

            def work(
                name: str = name,
                repository: str = repository,
                digest: str = digest,
                waiter: Callable[[HarborClient, str, str, str], object] = waiter,
            ) -> None:
                found[name] = measure(
                    self.harbor, self.robot, self.project, repository, digest, waiter
                )

            threads.append(threading.Thread(target=work))
            threads[-1].start()
        for thread in threads:
            thread.join()
        return found


HEADER = (
    "| scan | waiter | history | n | p50 delay | p95 delay | max delay "
    "| requests (mean) | requests (max) |"
)


HISTORY = {
    "none": "none (brand-new: nothing scanned in the project yet)",
    "project": "the project's other repositories",
    "repository": "the repository's own",
    "-": "-",
}


def run(harbor: LocalHarbor, api: docker.APIClient, plan: list[tuple[float, int]]) -> None:
    stamp = int(time.time())
    base = build_test_image(api, "clean", f"{PREFIX}/base:latest")
    number = 0
    rows = []
    for duration, count in plan:
        # A project per scan length: in an empty project the first round has no history at all.
        project = f"{PREFIX}-{stamp}-{int(duration)}s"
        harbor.create_project(project, auto_scan=True)
        robot = harbor.create_robot(
            project, "bench", permissions=("push", "pull", "scan", "artifact-read", "artifact-list")
        )
        bench = Bench(harbor, api, project, (robot.name, robot.secret), base)
        results: dict[tuple[str, str], list[Sample]] = {}
        for index in range(count):
            for name, sample in bench.round(duration, number, index).items():
                results.setdefault((name, sample.history), []).append(sample)
                print(f"{duration:.0f} s {name}: {sample}", flush=True)
            number += len(WAITERS)
        order = list(HISTORY)
        for (name, known), samples in sorted(
            results.items(), key=lambda item: (order.index(item[0][1]), item[0][0])
        ):
            delays = [s.delay for s in samples]
            rows.append(
                f"| {duration:.0f} s | {name} | {HISTORY[known]} | {len(samples)} "
                f"| {percentile(delays, 0.5):.2f} s | {percentile(delays, 0.95):.2f} s "
                f"| {max(delays):.2f} s "
                f"| {statistics.mean(s.requests for s in samples):.1f} "
                f"| {max(s.requests for s in samples)} |"
            )
    print()
    print(HEADER)
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
