"""Issue 2 end to end against real parts: the action builds a multi-stage image with the real
Docker engine and pushes it with robot credentials to a real distribution registry."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import docker
import pytest
import requests

from k1s0_stack.registry import Registry
from k1s0_stack.runner import DEFAULT_SHA, ActionRun, run_action
from tests.conftest import ROBOT_SECRET, ROBOT_USER

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-service"
AUTH = (ROBOT_USER, ROBOT_SECRET)


def unique_service() -> str:
    return f"it-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "app")
    return tmp_path


def base_inputs(registry: Registry, service: str) -> dict[str, str]:
    return {
        "service": service,
        "layer": "system",
        "version": "v1.2.3",
        "registry": registry.host,
        "context": "app",
        "harbor-username": ROBOT_USER,
        "harbor-password": ROBOT_SECRET,
    }


def manifest_digest(registry: Registry, repository: str, tag: str) -> str | None:
    response = registry.manifest(repository, tag, AUTH)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def image_config(registry: Registry, repository: str, reference: str) -> dict[str, object]:
    manifest = registry.manifest(repository, reference, AUTH).json()
    blob = requests.get(
        f"{registry.url}/v2/{repository}/blobs/{manifest['config']['digest']}",
        auth=AUTH,
        timeout=10,
    )
    blob.raise_for_status()
    config: dict[str, object] = blob.json()["config"]
    return config


def repositories(registry: Registry) -> list[str]:
    catalog = requests.get(f"{registry.url}/v2/_catalog", auth=AUTH, timeout=10).json()
    names: list[str] = catalog.get("repositories") or []
    return names


def assert_clean_failure(
    run: ActionRun, named: str, docker_api: docker.APIClient, registry: Registry, service: str
) -> None:
    assert run.returncode == 1, run.text()
    assert len(run.errors) == 1, run.stdout
    assert named in run.errors[0]
    assert not docker_api.images(name=f"{registry.host}/k1s0-system/{service}")
    assert f"k1s0-system/{service}" not in repositories(registry)
    assert ROBOT_SECRET not in run.text()


def test_push_to_default_branch(
    workspace: Path, registry: Registry, docker_api: docker.APIClient
) -> None:
    service = unique_service()
    run = run_action(workspace, base_inputs(registry, service))
    assert run.returncode == 0, run.text()

    repository = f"k1s0-system/{service}"
    image = f"{registry.host}/{repository}"
    digest = run.outputs["digest"]
    assert run.outputs["image"] == image
    assert run.outputs["push-tag"] == f"1.2.3-{DEFAULT_SHA[:7]}"
    assert run.outputs["image-ref"] == f"{image}@{digest}"
    assert json.loads(run.outputs["tags"]) == [f"1.2.3-{DEFAULT_SHA[:7]}", "1.2.3", "latest"]

    # The registry holds the very manifest the action reported, under every tag.
    for tag in json.loads(run.outputs["tags"]):
        assert manifest_digest(registry, repository, tag) == digest

    config = image_config(registry, repository, digest)
    labels = config["Labels"]
    assert isinstance(labels, dict)
    assert labels["org.opencontainers.image.revision"] == DEFAULT_SHA
    assert labels["org.opencontainers.image.version"] == "1.2.3"
    assert labels["org.opencontainers.image.title"] == service
    assert labels["org.opencontainers.image.source"] == "https://github.com/k1s0-org/k1s0"
    assert labels["org.opencontainers.image.created"].endswith("Z")
    assert config["User"] == "65532:65532"  # S4: the runtime stage runs as non-root
    assert "8080/tcp" in config["ExposedPorts"]  # type: ignore[operator]

    assert "::group::Build" in run.stdout and "::endgroup::" in run.stdout
    assert "Step 1/" in run.stdout  # the build log is streamed into the group
    assert digest in run.summary and image in run.summary
    assert ROBOT_SECRET not in run.text()


def test_feature_branch_gets_only_the_branch_tag(workspace: Path, registry: Registry) -> None:
    service = unique_service()
    run = run_action(
        workspace,
        {**base_inputs(registry, service), "version": "not-a-version"},
        ref="refs/heads/feature/auth",
    )
    assert run.returncode == 0, run.text()
    branch_tag = f"feature-auth-{DEFAULT_SHA[:7]}"
    assert json.loads(run.outputs["tags"]) == [branch_tag]
    repository = f"k1s0-system/{service}"
    assert manifest_digest(registry, repository, branch_tag) == run.outputs["digest"]
    assert manifest_digest(registry, repository, "latest") is None


def test_build_args_and_target_reach_the_build(workspace: Path, registry: Registry) -> None:
    (workspace / "app" / "Dockerfile.args").write_text(
        "ARG BASE_IMAGE=k1s0.local/busybox:1.35\n"
        'FROM ${BASE_IMAGE} AS first\nARG GREETING\nRUN echo "greeting: $GREETING"\n'
        "FROM first AS second\nRUN false\n"
    )
    service = unique_service()
    run = run_action(
        workspace,
        {
            **base_inputs(registry, service),
            "dockerfile": "app/Dockerfile.args",
            "build-args": "GREETING=hello from build-args\n",
            "target": "first",
        },
    )
    assert run.returncode == 0, run.text()
    assert "hello from build-args" in run.stdout


def test_build_failure_reports_the_daemons_error(
    workspace: Path, registry: Registry, docker_api: docker.APIClient
) -> None:
    (workspace / "app" / "Dockerfile").write_text("FROM k1s0.local/busybox:1.35\nRUN exit 3\n")
    service = unique_service()
    run = run_action(workspace, base_inputs(registry, service))
    assert_clean_failure(run, "returned a non-zero code: 3", docker_api, registry, service)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"layer": "platform"}, "input 'layer'"),
        ({"layer": "business"}, "input 'domain'"),
        ({"service": "My Service"}, "input 'service'"),
        ({"service": "team/auth"}, "input 'service'"),
        ({"layer": "business", "domain": "Accounting"}, "input 'domain'"),
        ({"version": "latest"}, "input 'version'"),
        ({"harbor-username": ""}, "input 'harbor-username'"),
        ({"harbor-password": ""}, "input 'harbor-password'"),
        ({"context": "missing-dir"}, "input 'context'"),
        ({"dockerfile": "app/Nope.Dockerfile"}, "input 'dockerfile'"),
        ({"build-args": "A=1\nMISSING_EQUALS"}, "input 'build-args'"),
        ({"harbor-password": "wrong-secret"}, "harbor-username and harbor-password"),
    ],
)
def test_bad_input_fails_before_anything_is_built(
    change: dict[str, str],
    named: str,
    workspace: Path,
    registry: Registry,
    docker_api: docker.APIClient,
) -> None:
    service = unique_service()
    inputs = {**base_inputs(registry, service), **change}
    if change.get("service"):
        service = change["service"]
    run = run_action(workspace, inputs)
    assert_clean_failure(run, named, docker_api, registry, service)
    assert "Step 1/" not in run.stdout
