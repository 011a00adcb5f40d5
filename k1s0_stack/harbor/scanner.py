"""Scan jobs with Harbor's state machine: queued (no overview) -> Pending -> Running -> Success or
Error. The scan itself is real Trivy pulling the image by digest from the registry behind us, like
Harbor's adapter with `use_internal_addr`."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from k1s0_stack.harbor.errors import HarborError
from k1s0_stack.harbor.faults import FaultPlan
from k1s0_stack.harbor.records import Artifact
from k1s0_stack.harbor.service import Harbor, scannable
from k1s0_stack.harbor.store import now
from k1s0_stack.trivy import ImageRef, ScanError, harbor_report, run_trivy

QUEUE_DELAY = 0.3  # seconds a job waits in the queue, overview absent
PENDING_DELAY = 0.3  # seconds it is Pending before the scanner picks it up
UNFINISHED = ("Queued", "Pending", "Running")


class Scanner:
    def __init__(
        self,
        harbor: Harbor,
        faults: FaultPlan,
        registry_host: Callable[[], str],
        registry_auth: tuple[str, str],
        db: str | None = None,
    ) -> None:
        self._harbor = harbor
        self._faults = faults
        self._registry_host = registry_host
        self._registry_auth = registry_auth
        self._db = db
        self._stopping = threading.Event()
        # One Trivy at a time: two cores are shared by everyone on these machines.
        self._trivy_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def request(self, artifact: Artifact) -> None:
        """Starts a scan (POST .../scan or scan on push); 409 while one is unfinished."""
        if not scannable(artifact):
            raise HarborError(
                422,
                "UNPROCESSABLE_ENTITY",
                "the configured scanner does not support media type "
                + artifact["manifest_media_type"],
            )
        if self._faults.scan(artifact["repository"]).outcome == "unreachable":
            # Harbor core cannot fetch the scanner's metadata, so no scanner "supports" the
            # artifact (captured: scan_trigger_scanner_down_400.http). The report row stays: the
            # artifact links to its vulnerabilities from then on, without an overview.
            if not artifact.get("scan"):
                self._harbor.update_scan(
                    int(artifact["id"]), report_id=str(uuid.uuid4()), status="Refused"
                )
            raise HarborError(
                400,
                "BAD_REQUEST",
                "the configured scanner Trivy does not support scanning artifact with mime type "
                + artifact["manifest_media_type"],
            )
        scan = artifact.get("scan") or {}
        status = scan.get("status")
        if status in UNFINISHED:
            shown = "Pending" if status == "Queued" else status
            raise HarborError(409, "CONFLICT", f"a previous scan process is {shown}")
        self._harbor.update_scan(
            int(artifact["id"]),
            report_id=str(uuid.uuid4()),
            status="Queued",
            start_time=None,
            end_time=None,
            complete_percent=0,
            duration=0,
            report=None,
            log="",
        )
        self._start(int(artifact["id"]))

    def stop_scan(self, artifact: Artifact) -> None:
        """POST .../scan/stop: an unfinished scan ends as Stopped (its job sees it and quits)."""
        scan = artifact.get("scan") or {}
        if scan.get("status") not in UNFINISHED:
            raise HarborError(404, "NOT_FOUND", "no scan job is running for the artifact")
        started = scan.get("start_time")
        duration = 0
        if started:
            begun = datetime.strptime(started, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            duration = max(int((datetime.now(UTC) - begun).total_seconds()), 1)
        self._harbor.update_scan(
            int(artifact["id"]), status="Stopped", end_time=now(), duration=duration
        )

    def _stopped(self, artifact_id: int) -> bool:
        with self._harbor.store.lock:
            artifact = self._harbor.store.data["artifacts"].get(str(artifact_id))
            return artifact is None or (artifact.get("scan") or {}).get("status") == "Stopped"

    def resume(self) -> None:
        """After a restart, runs the scans that were unfinished again."""
        for artifact in list(self._harbor.store.data["artifacts"].values()):
            if (artifact.get("scan") or {}).get("status") in UNFINISHED:
                self._harbor.update_scan(int(artifact["id"]), status="Queued")
                self._start(int(artifact["id"]))

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, artifact_id: int) -> None:
        thread = threading.Thread(target=self._run, args=(artifact_id,), daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _run(self, artifact_id: int) -> None:
        if self._stopping.wait(QUEUE_DELAY):
            return
        started = datetime.now(UTC)
        # Harbor's overview shows a Pending job with start and end at Go's zero time.
        if self._stopped(artifact_id):
            return
        artifact = self._harbor.update_scan(artifact_id, status="Pending")
        if artifact is None or self._stopping.wait(PENDING_DELAY) or self._stopped(artifact_id):
            return
        behaviour = self._faults.scan(artifact["repository"])
        self._harbor.update_scan(artifact_id, status="Running", start_time=now())
        began = time.monotonic()
        report: dict[str, Any] | None = None
        log = ""
        if behaviour.outcome == "success":
            try:
                report = self._scan(artifact)
            except ScanError as exc:
                log = str(exc)
        else:
            log = f"scan made to end in {behaviour.outcome} by the test"
        while behaviour.outcome == "stuck" or time.monotonic() - began < behaviour.duration:
            elapsed = time.monotonic() - began
            percent = 50 if behaviour.outcome == "stuck" else int(99 * elapsed / behaviour.duration)
            if self._stopped(artifact_id):
                return
            self._harbor.update_scan(artifact_id, complete_percent=max(percent, 1))
            if self._stopping.wait(min(0.5, max(behaviour.duration - elapsed, 0.05))):
                return
        if self._stopped(artifact_id):
            return
        finished = datetime.now(UTC)
        self._harbor.update_scan(
            artifact_id,
            status="Success" if report is not None else "Error",
            end_time=now(),
            complete_percent=100 if report is not None else 0,
            duration=int((finished - started).total_seconds()),
            report=report,
            log=log,
        )

    def _scan(self, artifact: Artifact) -> dict[str, Any]:
        user, password = self._registry_auth
        image = ImageRef(
            registry=self._registry_host(),
            repository=artifact["repository"],
            digest=artifact["digest"],
            username=user,
            password=password,
        )
        with self._trivy_lock:
            trivy_report = run_trivy(image, db=self._db)
        return harbor_report(trivy_report, artifact["digest"])
