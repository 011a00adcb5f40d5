"""What a built image is, read from the Docker engine through the Docker SDK: its configured user
and exposed ports, and its runtime file system as the engine exports it (a created, never started
container), not as the Dockerfile suggests."""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from k1s0_action.errors import BuildError, InputError

# Paths that decide V4 (tools in the runtime image) and how S4's user resolves; only these are
# kept from the export, so an image of any size costs one streamed read and a small value.
SHELLS = (
    "bin/sh",
    "bin/ash",
    "bin/bash",
    "bin/dash",
    "bin/zsh",
    "bin/ksh",
    "bin/busybox",
    "usr/bin/sh",
    "usr/bin/bash",
    "usr/bin/dash",
    "usr/bin/zsh",
    "usr/bin/busybox",
)
PACKAGE_MANAGERS = (
    "usr/bin/apt",
    "usr/bin/apt-get",
    "usr/bin/dpkg",
    "bin/dpkg",
    "sbin/apk",
    "usr/sbin/apk",
    "usr/bin/apk",
    "usr/bin/yum",
    "usr/bin/dnf",
    "usr/bin/microdnf",
    "usr/bin/rpm",
    "bin/rpm",
)
WATCHED = (
    *SHELLS,
    *PACKAGE_MANAGERS,
    "etc/alpine-release",
    "etc/os-release",
    "usr/lib/os-release",
    "etc/passwd",
)
_READ = ("etc/passwd", "etc/os-release", "usr/lib/os-release", "etc/alpine-release")
_MAX_READ = 1 << 20


@dataclass(frozen=True)
class ImageFacts:
    reference: str
    user: str  # Config.User, "" when unset
    exposed_ports: tuple[str, ...]  # e.g. ("8080/tcp",)
    present: tuple[str, ...]  # the WATCHED paths the file system has
    links: tuple[tuple[str, str], ...]  # (path, symlink or hard-link target) among them
    files: tuple[tuple[str, str], ...]  # (path, text) of the small files in _READ

    def has(self, path: str) -> bool:
        return path in self.present

    def link_target(self, path: str) -> str:
        return dict(self.links).get(path, "")

    def text(self, path: str) -> str:
        return dict(self.files).get(path, "")


def _normal(name: str) -> str:
    return name.removeprefix("./").lstrip("/").rstrip("/")


def scan_export(reference: str, config: dict[str, Any], chunks: Iterable[bytes]) -> ImageFacts:
    """Reads the exported tar stream (pure given the bytes; split out to be tested on tars)."""
    stream = io.BufferedReader(_ChunkReader(iter(chunks)), buffer_size=1 << 16)
    present: list[str] = []
    links: list[tuple[str, str]] = []
    files: list[tuple[str, str]] = []
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            name = _normal(member.name)
            if name not in WATCHED:
                continue
            present.append(name)
            if member.issym() or member.islnk():
                links.append((name, member.linkname))
            elif member.isfile() and name in _READ and member.size <= _MAX_READ:
                handle = tar.extractfile(member)
                if handle is not None:
                    files.append((name, handle.read().decode("utf-8", "replace")))
    ports = config.get("ExposedPorts") or {}
    return ImageFacts(
        reference=reference,
        user=str(config.get("User") or ""),
        exposed_ports=tuple(sorted(ports)),
        present=tuple(sorted(present)),
        links=tuple(sorted(links)),
        files=tuple(sorted(files)),
    )


def read(client: docker.APIClient, reference: str) -> ImageFacts:
    """Inspects `reference` and exports a created (not started) container of it."""
    try:
        inspected = client.inspect_image(reference)
    except docker.errors.ImageNotFound:
        raise InputError("image", f"'{reference}' is not an image on the Docker engine") from None
    except (docker.errors.APIError, requests.RequestException) as exc:
        raise BuildError(f"cannot inspect image {reference}: {exc}") from None
    config: dict[str, Any] = inspected.get("Config") or {}
    container = None
    try:
        # A command is required to create a container of an image without CMD (e.g. FROM scratch);
        # the container is never started, so it need not exist.
        container = client.create_container(
            reference, command=["/k1s0-conformance-export"], entrypoint=[], network_disabled=True
        )
        return scan_export(reference, config, client.export(container["Id"]))
    except (docker.errors.APIError, requests.RequestException, tarfile.TarError) as exc:
        raise BuildError(f"cannot export the file system of {reference}: {exc}") from None
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.APIError, requests.RequestException):
                client.remove_container(container["Id"], force=True)


class _ChunkReader(io.RawIOBase):
    """A read-only raw stream over the SDK's export chunks, for tarfile's streaming mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
