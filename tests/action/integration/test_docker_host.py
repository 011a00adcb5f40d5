"""The action builds on the engine the runner points at (DOCKER_HOST, DOCKER_TLS_VERIFY,
DOCKER_CERT_PATH, as the Docker CLI reads them): a second engine on a non-default unix socket and
over TCP with mutual TLS, started here next to the shared one."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from k1s0_stack.dockerd import ExtraEngine
from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.runner import run_action
from tests.fixtures import BUSYBOX_IMAGE

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-service"
PROJECT = "k1s0dh-system"
SAMPLE_RUNTIME_BASE = "nginx:1.27-alpine"


@pytest.fixture(scope="module")
def second_engine(docker_api: docker.APIClient) -> Iterator[ExtraEngine]:
    started = ExtraEngine(tls=True).start()
    try:
        # The sample service's bases: busybox, and the local stand-in of its approved runtime base
        # (scripts/standin-images.sh); nothing can be pulled here.
        for base in (BUSYBOX_IMAGE, SAMPLE_RUNTIME_BASE):
            started.load_image(docker_api, base)
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def robot(harbor: LocalHarbor) -> Robot:
    harbor.create_project(PROJECT)
    return harbor.create_robot(PROJECT, f"dh{uuid.uuid4().hex[:6]}")


def inputs(harbor: LocalHarbor, robot: Robot, service: str) -> dict[str, str]:
    return {
        "service": service,
        "layer": "system",
        "version": "1.0.0",
        "registry": harbor.registry_host,
        "project-prefix": "k1s0dh",
        "context": "app",
        "harbor-url": harbor.url,
        "harbor-username": robot.name,
        "harbor-password": robot.secret,
        "sign": "false",
    }


@pytest.mark.parametrize("over_tcp", [False, True], ids=["unix-socket", "tcp-tls"])
def test_the_build_runs_on_the_engine_docker_host_names(
    over_tcp: bool,
    tmp_path: Path,
    harbor: LocalHarbor,
    robot: Robot,
    second_engine: ExtraEngine,
    docker_api: docker.APIClient,
) -> None:
    shutil.copytree(SAMPLE, tmp_path / "app")
    service = f"dh-{'tcp' if over_tcp else 'unix'}-{uuid.uuid4().hex[:6]}"
    run = run_action(
        tmp_path, inputs(harbor, robot, service), env=second_engine.env(over_tcp=over_tcp)
    )
    assert run.returncode == 0, run.text()
    image = f"{harbor.registry_host}/{PROJECT}/{service}"
    assert second_engine.client(over_tcp).images(name=image), "not built on the second engine"
    assert not docker_api.images(name=image), "built on the default engine"
    assert run.outputs["digest"].startswith("sha256:")


def test_tls_without_the_client_certificate_is_one_line(
    tmp_path: Path, harbor: LocalHarbor, robot: Robot, second_engine: ExtraEngine
) -> None:
    shutil.copytree(SAMPLE, tmp_path / "app")
    env = second_engine.env(over_tcp=True)
    empty = tmp_path / "no-certs"
    empty.mkdir()
    env["DOCKER_CERT_PATH"] = str(empty)
    run = run_action(tmp_path, inputs(harbor, robot, f"dh-{uuid.uuid4().hex[:6]}"), env=env)
    assert run.returncode == 1
    assert len(run.errors) == 1, run.stdout
    assert "cannot reach the Docker engine at tcp://127.0.0.1:" in run.errors[0]
    assert "Traceback" not in run.text()
