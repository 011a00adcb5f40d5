"""The reusable cleanup workflow under act: a service repository's caller (daily schedule, manual
dispatch) runs the action's image with `k1s0-image cleanup` against the Harbor-compatible server
and the contract-checked GitHub server, on a GitHub-shaped workflow_dispatch event."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import pytest

from k1s0_action.cleanup import BRANCH_LABEL, PULL_REQUEST_LABEL, SOURCE_LABEL
from k1s0_action.harbor import HarborClient
from k1s0_action.tags import branch_tags
from k1s0_stack.act import ActRun, action_images, git_repository, local_action_tag, new_run_id
from k1s0_stack.action_image import ActionImage
from k1s0_stack.github import LocalGitHub
from k1s0_stack.github.contract import validate_event
from k1s0_stack.github.events import workflow_dispatch_event
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.testimages import push_raw_image
from tests.action.e2e.conftest import (
    ACTION_REF,
    ACTION_REPOSITORY,
    ROOT,
    SERVICE_REPOSITORY,
    WORKFLOWS,
)

pytestmark = pytest.mark.e2e

CALLER = "cleanup-caller.yml"
PERMISSIONS = ("repository-read", "artifact-list", "artifact-delete")


@pytest.fixture
def github() -> Iterator[LocalGitHub]:
    server = LocalGitHub(validate=True).start()
    server.create_repository(SERVICE_REPOSITORY)
    yield server
    violations = server.contract_violations()
    server.stop()
    assert not violations, "GitHub API contract violations:\n" + "\n".join(violations)


@pytest.mark.parametrize("apply", [False, True], ids=["dry-run", "apply"])
def test_the_cleanup_workflow_deletes_builds_merged_a_week_ago(
    docker_api: docker.APIClient,
    action_image: ActionImage,
    harbor: LocalHarbor,
    github: LocalGitHub,
    tmp_path: Path,
    apply: bool,
) -> None:
    prefix = f"e2ecl{os.getpid()}{uuid.uuid4().hex[:6]}"
    project = f"{prefix}-system"
    harbor.create_project(project, auto_scan=False)
    robot = harbor.create_robot(project, "cleanup", permissions=PERMISSIONS)
    now = datetime.now(UTC)
    tags = {}
    for n, (branch, merged_days_ago) in enumerate([("feature/old", 8), ("feature/new", 6)]):
        number = github.open_pull(SERVICE_REPOSITORY, branch)
        github.merge_pull(SERVICE_REPOSITORY, number, now - timedelta(days=merged_days_ago))
        tag = branch_tags(branch, f"{n:07x}").push_tag
        push_raw_image(
            harbor.url,
            f"{project}/svc",
            tag,
            harbor.admin,
            files={"branch": branch.encode()},
            labels={
                SOURCE_LABEL: f"https://github.com/{SERVICE_REPOSITORY}",
                BRANCH_LABEL: branch,
                PULL_REQUEST_LABEL: str(number),
            },
        )
        tags[branch] = tag

    workspace = tmp_path / "workspace"
    flow = workspace / ".github" / "workflows" / CALLER
    flow.parent.mkdir(parents=True)
    shutil.copy2(WORKFLOWS / CALLER, flow)
    git_repository(workspace, "main", f"https://github.com/{SERVICE_REPOSITORY}.git")
    event = workflow_dispatch_event(
        "main",
        SERVICE_REPOSITORY,
        {"apply": "true" if apply else "false"},
        workflow=f".github/workflows/{CALLER}",
    )
    assert validate_event("workflow_dispatch", event) == []
    run = ActRun(
        workspace=workspace,
        workflow=f".github/workflows/{CALLER}",
        event_name="workflow_dispatch",
        event=event,
        variables={
            "K1S0_HARBOR_URL": harbor.url,
            "K1S0_PROJECT_PREFIX": prefix,
            "K1S0_GITHUB_API_URL": github.url,
            "LAYERS": "system",
        },
        secrets={
            "HARBOR_USERNAME": robot.name,
            "HARBOR_PASSWORD": robot.secret,
            "GITHUB_TOKEN": github.token,
        },
        local_repositories={f"{ACTION_REPOSITORY}@{ACTION_REF}": ROOT},
        run_id=new_run_id(),
    )
    with action_images(
        docker_api, action_image.image_id, [local_action_tag(f"{ACTION_REPOSITORY}@{ACTION_REF}")]
    ):
        result = run.run(docker_api, tmp_path / "act")
    assert result.returncode == 0, result.log[-6000:]

    left = {
        tag for a in HarborClient(harbor.url, *harbor.admin).list_artifacts(project, "svc")
        for tag in a.tags
    }  # fmt: skip
    summary = result.summary
    ran = [line for line in result.log.splitlines() if "docker run image=act-" in line]
    assert f"{project}/svc" in summary, f"{prefix}: {ran}\n{summary}"
    assert "| image | tag | branch | PR | merged at | action |" in summary
    if apply:
        assert left == {tags["feature/new"]}
        assert "1 branch build(s) deleted, 1 kept" in summary
    else:
        assert left == set(tags.values())
        assert "dry run: nothing deleted" in summary
        assert "1 branch build(s) to delete, 1 kept" in summary
    assert robot.secret not in result.log + summary
    assert github.token not in result.log + summary
    # the job asked GitHub for each branch's pull requests, with its token
    assert any("head=k1s0-org%3Afeature%2Fold" in r for r in github.requests), github.requests
