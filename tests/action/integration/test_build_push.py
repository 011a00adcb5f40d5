"""Issue 2 end to end against real parts: the action builds a multi-stage image with the real
Docker engine and pushes it with robot credentials to the Harbor-compatible server (a real
distribution registry behind Harbor's /v2/ and API, since the run now waits for Harbor's scan)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import requests

from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.runner import DEFAULT_SHA, ActionRun, run_action

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-service"
PROJECT = "k1s0-system"
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


@dataclass(frozen=True)
class Registry:
    """Harbor's registry side (/v2/ on the same host) as the robot of project k1s0-system."""

    harbor: LocalHarbor
    auth: tuple[str, str]

    @property
    def host(self) -> str:
        return self.harbor.registry_host

    @property
    def url(self) -> str:
        return self.harbor.url

    @property
    def secret(self) -> str:
        return self.auth[1]

    def manifest(self, repository: str, reference: str) -> requests.Response:
        return requests.get(
            f"{self.url}/v2/{repository}/manifests/{reference}",
            headers={"Accept": MANIFEST_ACCEPT},
            auth=self.auth,
            timeout=10,
        )


@pytest.fixture(scope="module")
def registry(harbor: LocalHarbor) -> Iterator[Registry]:
    harbor.create_project(PROJECT, auto_scan=True)
    robot = harbor.create_robot(PROJECT, f"build{uuid.uuid4().hex[:6]}")
    yield Registry(harbor, (robot.name, robot.secret))


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
        "harbor-url": registry.url,
        "harbor-username": registry.auth[0],
        "harbor-password": registry.secret,
        "sign": "false",  # signing has its own tests (test_pipeline_signing.py)
    }


def manifest_digest(registry: Registry, repository: str, tag: str) -> str | None:
    response = registry.manifest(repository, tag)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def image_config(registry: Registry, repository: str, reference: str) -> dict[str, object]:
    manifest = registry.manifest(repository, reference).json()
    blob = requests.get(
        f"{registry.url}/v2/{repository}/blobs/{manifest['config']['digest']}",
        auth=registry.auth,
        timeout=10,
    )
    blob.raise_for_status()
    config: dict[str, object] = blob.json()["config"]
    return config


def repositories(registry: Registry) -> list[str]:
    listed = requests.get(
        f"{registry.harbor.api}/projects/{PROJECT}/repositories",
        params={"page_size": "100"},
        auth=registry.harbor.admin,
        timeout=10,
    )
    listed.raise_for_status()
    return [str(repository["name"]) for repository in listed.json()]


def assert_clean_failure(
    run: ActionRun, named: str, docker_api: docker.APIClient, registry: Registry, service: str
) -> None:
    assert run.returncode == 1, run.text()
    assert len(run.errors) == 1, run.stdout
    assert named in run.errors[0]
    assert not docker_api.images(name=f"{registry.host}/k1s0-system/{service}")
    assert f"k1s0-system/{service}" not in repositories(registry)
    assert registry.secret not in run.text()


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
    assert registry.secret not in run.text()


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
    greeting = f"hello from build-args {service}"  # unique, so the RUN step is not cached
    run = run_action(
        workspace,
        {
            **base_inputs(registry, service),
            "dockerfile": "app/Dockerfile.args",
            "build-args": f"GREETING={greeting}\n",
            "target": "first",
            "conformance": "off",  # a one-stage target; the image rules have their own tests
        },
    )
    assert run.returncode == 0, run.text()
    assert f"greeting: {greeting}" in run.stdout


def test_build_failure_reports_the_daemons_error(
    workspace: Path, registry: Registry, docker_api: docker.APIClient
) -> None:
    (workspace / "app" / "Dockerfile").write_text("FROM k1s0.local/busybox:1.35\nRUN exit 3\n")
    service = unique_service()
    run = run_action(workspace, base_inputs(registry, service))
    assert_clean_failure(run, "returned a non-zero code: 3", docker_api, registry, service)
    # The job summary still says what was done and what was not.
    assert "❌ failed at build" in run.summary
    assert "returned a non-zero code: 3" in run.summary
    assert "| push | ⏸️ not reached |" in run.summary


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
    assert "❌ failed at inputs" in run.summary and "| build | ⏸️ not reached |" in run.summary


def test_a_transient_registry_failure_during_the_push_is_retried(
    workspace: Path, registry: Registry
) -> None:
    # The daemon retries layer uploads itself but reports a failed manifest upload in the push
    # stream, where the SDK does not raise: the action must notice it and push again.
    registry.harbor.inject_fault("registry:manifest-put", status=503, count=1)
    service = unique_service()
    try:
        run = run_action(workspace, base_inputs(registry, service))
    finally:
        registry.harbor.clear_faults()
    assert run.returncode == 0, run.text()
    assert "503" in run.stdout and "retry 1" in run.stdout
    repository = f"{PROJECT}/{service}"
    assert manifest_digest(registry, repository, run.outputs["push-tag"]) == run.outputs["digest"]


def test_a_robot_of_another_project_is_refused_without_retries(
    workspace: Path, registry: Registry, docker_api: docker.APIClient
) -> None:
    # Harbor's projects are the permission boundary (N2, V3): a robot of another project cannot
    # push to k1s0-system. The login succeeds (the robot exists); reading the project, before
    # anything is built, is refused, once.
    other_project = f"k1s0-other-{uuid.uuid4().hex[:6]}"
    registry.harbor.create_project(other_project, auto_scan=True)
    other = registry.harbor.create_robot(other_project, "ci")
    service = unique_service()
    run = run_action(
        workspace,
        {
            **base_inputs(registry, service),
            "harbor-username": other.name,
            "harbor-password": other.secret,
        },
    )
    assert run.returncode == 1, run.text()
    assert len(run.errors) == 1
    assert f"belongs to project {other_project}, not {PROJECT}" in run.errors[0]
    assert "Step 1/" not in run.stdout
    assert "retry" not in run.stdout
    assert other.secret not in run.text()
    assert f"{PROJECT}/{service}" not in repositories(registry)
