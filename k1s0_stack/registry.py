"""A real distribution registry (Debian's docker-registry) on loopback, with htpasswd auth."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from k1s0_stack.process import Service, free_port, tool, wait_for_port

CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: k1s0-local-registry
{auth}
"""

HTPASSWD_AUTH = """\
auth:
  htpasswd:
    realm: k1s0-registry
    path: {htpasswd}
"""


@dataclass
class Registry:
    """`docker-registry serve` with filesystem storage under `data_dir`."""

    data_dir: Path
    users: dict[str, str] = field(repr=False)
    port: int = 0
    service: Service | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> Registry:
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.users:
            htpasswd = self.data_dir / "htpasswd"
            htpasswd.write_text(
                "".join(_htpasswd_line(user, secret) for user, secret in self.users.items())
            )
            auth = HTPASSWD_AUTH.format(htpasswd=htpasswd)
        config = self.data_dir / "config.yml"
        config.write_text(
            CONFIG.format(storage=self.data_dir / "storage", port=self.port, auth=auth)
        )
        self.service = Service(
            "docker-registry",
            [tool("docker-registry"), "serve", str(config)],
            self.data_dir / "registry.log",
        ).start()
        wait_for_port(self.port)
        self.service.check_alive()
        return self

    def stop(self) -> None:
        if self.service:
            self.service.stop()

    def manifest(self, repository: str, reference: str, auth: tuple[str, str]) -> requests.Response:
        accept = ", ".join(
            [
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.oci.image.index.v1+json",
            ]
        )
        return requests.get(
            f"{self.url}/v2/{repository}/manifests/{reference}",
            headers={"Accept": accept},
            auth=auth,
            timeout=10,
        )


def _htpasswd_line(user: str, secret: str) -> str:
    # bcrypt is the only hash distribution's htpasswd accepts.
    out = subprocess.run(
        ["htpasswd", "-niB", user], input=secret, check=True, capture_output=True, text=True
    ).stdout
    return out.strip() + "\n"
