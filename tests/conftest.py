"""Fixtures shared by the integration and end-to-end tests: the real Docker engine, registry and
the local keyless Sigstore stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from k1s0_stack.faults import FaultProxy
from k1s0_stack.registry import Registry
from k1s0_stack.sigstore import LocalSigstore, start_sigstore

BUSYBOX_IMAGE = "k1s0.local/busybox:1.35"  # made by scripts/base-images.sh
ROBOT_USER = "robot$k1s0-system+ci"
ROBOT_SECRET = "S3cretRobotToken0123456789abcdef"


@pytest.fixture(scope="session")
def docker_api() -> docker.APIClient:
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
    data = tmp_path_factory.mktemp("registry")
    started = Registry(data_dir=Path(data), users={ROBOT_USER: ROBOT_SECRET}).start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def sigstore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSigstore]:
    """The local keyless stack: a GitHub-like OIDC token service and real Fulcio trusting it."""
    started = start_sigstore(Path(tmp_path_factory.mktemp("sigstore")))
    yield started
    started.stop()


@pytest.fixture
def fulcio_faults(sigstore: LocalSigstore) -> Iterator[FaultProxy]:
    """A proxy in front of the real Fulcio that can answer the next requests with 503."""
    proxy = FaultProxy(sigstore.fulcio_url).start()
    yield proxy
    proxy.stop()
