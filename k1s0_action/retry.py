"""Backoff with jitter for transient failures; the one retry loop the package uses."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from k1s0_action.errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter, but never sooner than the server asked for (Retry-After)."""
        ceiling = min(self.maximum, self.initial * self.factor**attempt)
        chosen = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            chosen = max(chosen, min(retry_after, self.maximum * 6))
        return chosen


def retrying(
    action: Callable[[], T],
    backoff: Backoff,
    on_retry: Callable[[int, TransientError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Calls `action`, retrying TransientError; the last one propagates."""
    attempt = 0
    while True:
        try:
            return action()
        except TransientError as error:
            attempt += 1
            if attempt >= backoff.attempts:
                raise
            wait = backoff.delay(attempt - 1, getattr(error, "retry_after", None))
            if on_retry:
                on_retry(attempt, error, wait)
            sleep(wait)
