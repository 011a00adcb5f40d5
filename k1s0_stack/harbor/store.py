"""The server's state (projects, robots, repositories, artifacts, scan reports, retention) as JSON
in the data directory, written after every change so that it survives a restart."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from k1s0_stack.harbor.records import State

ZERO_TIME = "0001-01-01T00:00:00.000Z"


def now() -> str:
    """Harbor's API timestamp format, e.g. 2024-03-01T08:59:32.000Z."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def hash_secret(secret: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def secret_matches(secret: str, salt: str, expected: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, salt), expected)


class Store:
    """All mutable state under one lock; `transaction()` saves on exit."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "state.json"
        self.lock = threading.RLock()
        self.data: State = self._load()

    def _load(self) -> State:
        if self.path.exists():
            return cast(State, json.loads(self.path.read_text()))
        return {
            "next_id": 1,
            "projects": {},
            "robots": {},
            "repositories": {},
            "artifacts": {},
            "retentions": {},
            "system_allowlist": {
                "id": 0,
                "project_id": 0,
                "items": [],
                "creation_time": ZERO_TIME,
                "update_time": ZERO_TIME,
            },
        }

    def new_id(self) -> int:
        with self.lock:
            value = int(self.data["next_id"])
            self.data["next_id"] = value + 1
            return value

    @contextlib.contextmanager
    def transaction(self) -> Iterator[State]:
        with self.lock:
            yield self.data
            self.save()

    def save(self) -> None:
        with self.lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)


def load_or_create_secrets(data_dir: Path) -> dict[str, str]:
    """The admin password and the registry's internal credential, kept (0600) across restarts."""
    path = data_dir / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    created = {
        "admin_password": "Adm1n-" + secrets.token_urlsafe(18),
        "registry_user": "harbor_registry_user",
        "registry_password": secrets.token_urlsafe(24),
        "salt": secrets.token_hex(8),
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(created))
    return created
