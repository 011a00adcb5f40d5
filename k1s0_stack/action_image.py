"""Builds the action's own Dockerfile from local parts, the way the end-to-end tests and the
benchmark need it: the locally made Python base instead of the pinned Docker Hub one, and cosign
from the project's tool cache (served on loopback, so the Dockerfile's checksum check still runs).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from k1s0_stack.process import tool

LOCAL_PYTHON_IMAGE = "k1s0.local/python:3.11-bookworm"  # scripts/base-images.sh
REPOSITORY = "k1s0e2e/action"


@dataclass(frozen=True)
class ActionImage:
    image_id: str
    reference: str


def context_files(root: Path) -> list[Path]:
    """The files .dockerignore lets into the build context, sorted (what the engine is sent)."""
    rules = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    chosen = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        included = True
        for rule in rules:
            negated = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if _matches(relative, pattern):
                included = negated
        if included:
            chosen.append(path)
    return chosen


def _matches(relative: str, pattern: str) -> bool:
    if pattern.startswith("**/"):
        tail = pattern[3:]
        return any(fnmatch.fnmatch(part, tail) for part in relative.split("/"))
    return fnmatch.fnmatch(relative, pattern) or relative.startswith(pattern + "/")


def context_digest(root: Path, *extra: str) -> str:
    """A short digest of the build context and the build arguments: one image per distinct input."""
    digest = hashlib.sha256()
    for path in context_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for value in extra:
        digest.update(value.encode() + b"\0")
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def serve_file(path: Path, preferred_port: int = 0) -> Iterator[str]:
    """Serves one file on 127.0.0.1 for the duration of a build; yields its URL.

    The URL is a build argument, and the classic builder's cache key includes build arguments: a
    stable port (when free) keeps warm builds cached.
    """
    data = path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", preferred_port), Handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
    finally:
        server.shutdown()
        server.server_close()


def build_action_image(
    api: docker.APIClient,
    root: Path,
    python_image: str = LOCAL_PYTHON_IMAGE,
    cosign: Path | None = None,
    nocache: bool = False,
    log: Callable[[str], None] | None = None,
) -> ActionImage:
    """`docker build --network host` of the action's Dockerfile with the local build arguments."""
    cosign_path = cosign or Path(tool("cosign"))
    cosign_sha = hashlib.sha256(cosign_path.read_bytes()).hexdigest()
    base_id = str(api.inspect_image(python_image)["Id"])
    reference = f"{REPOSITORY}:{context_digest(root, base_id, cosign_sha)}"
    with serve_file(cosign_path, 20000 + int(cosign_sha[:8], 16) % 20000) as cosign_url:
        stream = api.build(
            path=str(root),
            tag=reference,
            buildargs={
                "PYTHON_IMAGE": python_image,
                "COSIGN_URL": cosign_url,
                "COSIGN_SHA256": cosign_sha,
            },
            network_mode="host",
            nocache=nocache,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk or "errorDetail" in chunk:
                raise RuntimeError(f"action image build failed: {chunk}")
            text = chunk.get("stream")
            if log and isinstance(text, str) and text.strip():
                log(text.rstrip("\n"))
    return ActionImage(image_id=str(api.inspect_image(reference)["Id"]), reference=reference)
