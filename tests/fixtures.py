"""Fixtures shared by the integration, end-to-end and stack tests: the real Docker engine, registry,
the Harbor-compatible server and the local keyless Sigstore stack.

Registered by the root conftest as a plugin; every heavy import happens inside a fixture, so the
unit tests collect and run without the Docker SDK reaching an engine, Flask, openapi-core or the
Go tools.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import docker

    from k1s0_stack.faults import FaultProxy
    from k1s0_stack.harbor import LocalHarbor, Robot
    from k1s0_stack.registry import Registry
    from k1s0_stack.sigstore import LocalSigstore

BUSYBOX_IMAGE = "k1s0.local/busybox:1.35"  # made by scripts/base-images.sh
ROBOT_USER = "robot$k1s0-system+ci"
ROBOT_SECRET = "S3cretRobotToken0123456789abcdef"


@pytest.fixture(scope="session", autouse=True)
def _remove_images_of_stopped_local_registries() -> Iterator[None]:
    """Every test session pushes to registries on new loopback ports and leaves the tags behind;
    on a vfs engine those images fill the disk run after run. At the end, images tagged for a
    loopback registry that no longer listens go (a concurrent session's registry still listens,
    so its images stay)."""
    yield
    if "docker" not in sys.modules:  # a unit-only session never touched the engine
        return
    import docker

    try:
        client = docker.APIClient(version="auto")
        tags = [tag for image in client.images() for tag in image.get("RepoTags") or []]
    except docker.errors.DockerException:
        return
    for tag in tags:
        host, _, port = tag.split("/", 1)[0].partition(":")
        if host not in ("127.0.0.1", "localhost") or not port.isdigit() or "/" not in tag:
            continue
        if _listening(int(port)):
            continue
        # in use by a container, or already gone with another tag: left for a later session
        with contextlib.suppress(docker.errors.DockerException):
            client.remove_image(tag, noprune=False)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def docker_api() -> docker.APIClient:
    import docker

    try:
        client = docker.APIClient(version="auto")
        client.ping()
    except docker.errors.DockerException as exc:  # pragma: no cover - environment
        pytest.fail(f"no Docker engine: run scripts/setup.sh first ({exc})")
    try:
        client.inspect_image(BUSYBOX_IMAGE)
    except docker.errors.ImageNotFound:  # pragma: no cover - environment
        pytest.fail(f"{BUSYBOX_IMAGE} is missing: run scripts/base-images.sh")
    return client


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A real distribution registry on loopback with one robot-like user."""
    from k1s0_stack.registry import Registry

    data = tmp_path_factory.mktemp("registry")
    started = Registry(data_dir=Path(data), users={ROBOT_USER: ROBOT_SECRET}).start()
    yield started
    started.stop()


# -- the Harbor-compatible server (k1s0_stack.harbor) ---------------------------------------------


@pytest.fixture(scope="session")
def harbor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHarbor]:
    """One LocalHarbor for the session, validating every API exchange against Harbor's spec; the
    run fails at the end if any request or response broke the contract."""
    from k1s0_stack.harbor import LocalHarbor

    started = LocalHarbor(data_dir=Path(tmp_path_factory.mktemp("harbor")), validate=True).start()
    yield started
    violations = started.contract_violations()
    started.stop()
    if violations:
        pytest.fail("Harbor API contract violations:\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def harbor_project(harbor: LocalHarbor, request: pytest.FixtureRequest) -> str:
    """A fresh project (auto scan on) with a unique name; settings via
    `@pytest.mark.parametrize("harbor_project", [{...}], indirect=True)`."""
    name = f"k1s0hb-{uuid.uuid4().hex[:8]}"
    harbor.create_project(name, **{"auto_scan": True, **getattr(request, "param", {})})
    return name


@pytest.fixture
def harbor_robot(harbor: LocalHarbor, harbor_project: str) -> Robot:
    """A robot of `harbor_project` with exactly the permissions the action needs."""
    from k1s0_stack.harbor import ACTION_PERMISSIONS

    return harbor.create_robot(harbor_project, "ci", permissions=ACTION_PERMISSIONS)


# -- the local keyless stack (k1s0_stack.sigstore) -----------------------------------------------


@pytest.fixture(scope="session")
def sigstore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSigstore]:
    """The local keyless stack: a GitHub-like OIDC token service and real Fulcio trusting it."""
    from k1s0_stack.sigstore import start_sigstore

    started = start_sigstore(Path(tmp_path_factory.mktemp("sigstore")))
    yield started
    started.stop()


@pytest.fixture
def fulcio_faults(sigstore: LocalSigstore) -> Iterator[FaultProxy]:
    """A proxy in front of the real Fulcio that can answer the next requests with 503."""
    from k1s0_stack.faults import FaultProxy

    proxy = FaultProxy(sigstore.fulcio_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def sigstore_tlog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSigstore]:
    """The keyless stack plus a real Rekor v1 (Trillian on MariaDB) as transparency log."""
    from k1s0_stack.sigstore import start_sigstore

    started = start_sigstore(Path(tmp_path_factory.mktemp("sigstore-tlog")), with_rekor=True)
    yield started
    started.stop()
