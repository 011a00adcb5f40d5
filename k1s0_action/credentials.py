"""The one credential type: a Harbor robot account as the engine, Harbor's API and cosign use it."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    registry: str
    username: str
    password: str = field(repr=False)

    def auth_config(self) -> dict[str, str]:
        """The Docker engine's `auth_config` for a push or login."""
        return {"username": self.username, "password": self.password}

    def basic(self) -> str:
        """The `auth` value of a Docker config.json (and of an HTTP Basic header)."""
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
