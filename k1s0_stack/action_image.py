"""Builds the action's own Dockerfile from local parts, the way the end-to-end tests and the
benchmark need it: the locally made Python base instead of the pinned Docker Hub one, with the
locked wheels, cosign and buildx from the project's tool cache in it (build_base), so the
Dockerfile's hash and checksum checks still run and the build needs no network.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from k1s0_stack import buildkit
from k1s0_stack.process import CACHE, tool

LOCAL_PYTHON_IMAGE = "k1s0.local/python:3.11-bookworm"  # scripts/base-images.sh
REPOSITORY = "k1s0e2e/action"
BASE_REPOSITORY = "k1s0e2e/action-build-base"
LOCAL_DIR = "/k1s0-local"  # where the build base keeps the wheels, cosign and buildx


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


def wheelhouse(root: Path) -> Path:
    """The wheels requirements.lock pins, downloaded once from PyPI (hashes checked by pip) into
    the tool cache, one directory per lock file."""
    lock = root / "requirements.lock"
    directory = CACHE / "wheels" / hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    done = directory / ".complete"
    if not done.exists():
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--require-hashes", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
             "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
             "--platform", "manylinux_2_28_x86_64", "--platform", "any",
             "--dest", str(directory), "-r", str(lock)],
            check=True,
        )  # fmt: skip
        done.write_text("")
    return directory


def build_base(
    api: docker.APIClient,
    root: Path,
    python_image: str = LOCAL_PYTHON_IMAGE,
    cosign: Path | None = None,
    buildx: Path | None = None,
) -> tuple[str, dict[str, str]]:
    """The local stand-in for the Dockerfile's build stage base, and the build arguments that use
    it. It is the local Python base plus what GitHub's build downloads: the locked wheels, which pip
    finds through PIP_FIND_LINKS with PIP_NO_INDEX (still checking requirements.lock's hashes), and
    cosign and buildx (scripts/buildkit.sh's build), which the Dockerfile's fetch-checked steps read
    from file:// URLs and check against their sha256. The Dockerfile then builds without any
    network, as the action's own build (under act, in the release workflow) must here."""
    cosign_path = cosign or Path(tool("cosign"))
    cosign_sha = hashlib.sha256(cosign_path.read_bytes()).hexdigest()
    buildx_path = (buildx or Path(buildkit.binary("buildx"))).resolve()
    buildx_sha = hashlib.sha256(buildx_path.read_bytes()).hexdigest()
    wheels = wheelhouse(root)
    base_id = str(api.inspect_image(python_image)["Id"])
    inputs = f"{base_id}\0{cosign_sha}\0{buildx_sha}\0{wheels.name}"
    key = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    reference = f"{BASE_REPOSITORY}:{key}"
    buildargs = {
        "PYTHON_IMAGE": reference,
        "COSIGN_URL": f"file://{LOCAL_DIR}/cosign",
        "COSIGN_SHA256": cosign_sha,
        "BUILDX_URL": f"file://{LOCAL_DIR}/buildx",
        "BUILDX_SHA256": buildx_sha,
    }
    if _exists(api, reference):
        return reference, buildargs
    with tempfile.TemporaryDirectory(prefix="k1s0-action-base-") as scratch:
        context = Path(scratch)
        shutil.copytree(wheels, context / "wheels", ignore=shutil.ignore_patterns(".complete"))
        shutil.copy2(cosign_path, context / "cosign")
        shutil.copy2(buildx_path, context / "buildx")
        (context / "Dockerfile").write_text(
            f"FROM {python_image}\n"
            f"COPY wheels/ {LOCAL_DIR}/wheels/\n"
            f"COPY cosign {LOCAL_DIR}/cosign\n"
            f"COPY buildx {LOCAL_DIR}/buildx\n"
            f"ENV PIP_NO_INDEX=1 PIP_FIND_LINKS={LOCAL_DIR}/wheels\n"
        )
        _stream(api.build(path=str(context), tag=reference, rm=True, forcerm=True, decode=True))
    return reference, buildargs


def _exists(api: docker.APIClient, reference: str) -> bool:
    try:
        api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


def _stream(stream: Iterator[dict[str, Any]], log: Callable[[str], None] | None = None) -> None:
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            raise RuntimeError(f"action image build failed: {chunk}")
        text = chunk.get("stream")
        if log and isinstance(text, str) and text.strip():
            log(text.rstrip("\n"))


def build_action_image(
    api: docker.APIClient,
    root: Path,
    python_image: str = LOCAL_PYTHON_IMAGE,
    cosign: Path | None = None,
    nocache: bool = False,
    log: Callable[[str], None] | None = None,
) -> ActionImage:
    """`docker build` of the action's Dockerfile from the local build base, without network."""
    base, buildargs = build_base(api, root, python_image, cosign)
    base_id = str(api.inspect_image(base)["Id"])
    reference = f"{REPOSITORY}:{context_digest(root, base_id)}"
    _stream(
        api.build(
            path=str(root),
            tag=reference,
            buildargs=buildargs,
            network_mode="none",
            nocache=nocache,
            rm=True,
            forcerm=True,
            decode=True,
        ),
        log,
    )
    return ActionImage(image_id=str(api.inspect_image(reference)["Id"]), reference=reference)
