"""Faults the tests make the server produce, and how scans behave."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One injected fault: answer `status` (with Retry-After), or sleep `hang` seconds first, or
    drop the connection without an answer."""

    operation: str  # a swagger operationId, or "registry" for /v2/
    status: int | None = 503
    retry_after: int | None = None
    hang: float | None = None
    drop: bool = False
    # Only requests authenticated as this user take the fault: the session's one LocalHarbor also
    # serves the Docker daemon and the scanner, whose stray requests must not use it up.
    username: str | None = None


@dataclass(frozen=True)
class ScanBehaviour:
    # "success" | "error" | "stuck" | "unreachable" (the scanner cannot be reached: Harbor
    # refuses the scan request itself with 400, see Scanner.request)
    outcome: str = "success"
    duration: float = 0.0  # seconds the scan stays Running at least


class FaultPlan:
    """Faults per operation, each used for a given count; scan behaviour per repository."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[Fault, int]] = []
        self._scans: dict[str | None, ScanBehaviour] = {None: ScanBehaviour()}

    def inject(self, fault: Fault, count: int) -> None:
        if fault.status is None and fault.hang is None and not fault.drop:
            raise ValueError("a fault needs a status, a hang or drop=True")
        with self._lock:
            self._faults.append((fault, count))

    def take(self, operation: str, username: str | None = None) -> Fault | None:
        with self._lock:
            for index, (fault, left) in enumerate(self._faults):
                if fault.operation == operation and fault.username in (None, username):
                    if left > 1:
                        self._faults[index] = (fault, left - 1)
                    else:
                        del self._faults[index]
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._scans = {None: ScanBehaviour()}

    def set_scan(self, repository: str | None, behaviour: ScanBehaviour) -> None:
        if behaviour.outcome not in ("success", "error", "stuck", "unreachable"):
            raise ValueError(f"unknown scan outcome {behaviour.outcome!r}")
        with self._lock:
            self._scans[repository] = behaviour

    def scan(self, repository: str) -> ScanBehaviour:
        with self._lock:
            return self._scans.get(repository) or self._scans[None]
