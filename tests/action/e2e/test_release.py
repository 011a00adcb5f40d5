"""The release path under act: `.github/workflows/release.yml` on a tag push builds the action
image with the action itself (build, push, gate, sign, promote in LocalHarbor), makes the release
commit whose action.yml names the pushed digest and moves the tags; a service's caller workflow
then uses that ref and act pulls the image (its `docker://` path) instead of building it; and the
image verifies with the release workflow's identity.

The public path is a LocalHarbor repository here (the runner cannot reach ghcr.io): variable
ACTION_IMAGE names the Harbor repository the action pushed to, so the workflow's copy step to
another registry is skipped. The origin repository is a bare git repository on this machine,
mounted into the job container, which the workflow pushes the release commit and tags to.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import yaml

from k1s0_action.cli import main as cli
from k1s0_action.harbor import HarborClient
from k1s0_stack.act import (
    RUNNER_IMAGE,
    ActResult,
    ActRun,
    action_images,
    local_action_tag,
    new_run_id,
    push_event,
)
from k1s0_stack.action_image import ActionImage, build_base
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.sigstore import LocalSigstore
from tests.action.e2e.conftest import (
    ACTION_REF,
    ACTION_REPOSITORY,
    PERMISSIONS,
    REUSABLE,
    ROOT,
    SAMPLE_SERVICE,
    SERVICE_REPOSITORY,
    TRUSTED_ROOT,
    WORKFLOWS,
    ActBuildKit,
    checkout_files,
    copy_files,
)

pytestmark = pytest.mark.e2e

TAG = "v1.2.3"
SERVICE = "k1s0-image-action"
RELEASE_IDENTITY = (
    "^"
    + re.escape(f"https://github.com/{ACTION_REPOSITORY}/.github/workflows/release.yml")
    + r"@refs/tags/v[0-9]+\.[0-9]+\.[0-9]+$"
)


@dataclass
class MountedActRun(ActRun):
    """An act run whose job and step containers also see `mounts` (host path = container path)."""

    mounts: tuple[Path, ...] = ()

    def command(self, state: Path) -> list[str]:
        options = " ".join(f"-v {path}:{path}" for path in self.mounts)
        return [*super().command(state), "--container-options", options]


def forget(api: docker.APIClient, repository: str) -> None:
    """Removes every local name (tags and digests) of `repository` from the engine."""
    for image in api.images(name=repository):
        for reference in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
            with contextlib.suppress(docker.errors.ImageNotFound):
                api.remove_image(reference, force=True)


def git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass(frozen=True)
class Released:
    result: ActResult
    origin: Path
    source_sha: str
    image: str  # the public path, here the Harbor repository
    digest: str
    harbor_digest: str  # what Harbor's 1.2.3 tag points at
    prefix: str
    puller: tuple[str, str]  # a robot that may only pull <prefix>-infra


def run_act(api: docker.APIClient, run: ActRun, state: Path, image: ActionImage) -> ActResult:
    tags = [local_action_tag("./"), local_action_tag(f"{ACTION_REPOSITORY}@{ACTION_REF}")]
    with action_images(api, image.image_id, tags):
        return run.run(api, state)


def stack_variables(harbor: LocalHarbor, sigstore: LocalSigstore, prefix: str) -> dict[str, str]:
    return {
        "K1S0_HARBOR_REGISTRY": harbor.registry_host,
        "K1S0_HARBOR_URL": harbor.url,
        "K1S0_PROJECT_PREFIX": prefix,
        "K1S0_FULCIO_URL": sigstore.fulcio_url,
        "K1S0_REKOR_URL": "http://127.0.0.1:9",
        "K1S0_TLOG_UPLOAD": "false",  # the local stack has no Rekor
        "K1S0_TRUSTED_ROOT": TRUSTED_ROOT,
        "K1S0_CERTIFICATE_OIDC_ISSUER": sigstore.oidc_url,
    }


@pytest.fixture(scope="module")
def released(
    docker_api: docker.APIClient,
    action_image: ActionImage,
    harbor: LocalHarbor,
    sigstore: LocalSigstore,
    act_buildkit: ActBuildKit,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Released]:
    """One run of the release workflow on a tag push of this checkout."""
    labels = docker_api.inspect_image(RUNNER_IMAGE)["Config"].get("Labels") or {}
    if not labels.get("k1s0.runner-git"):
        pytest.fail(
            f"{RUNNER_IMAGE} has no git, which the release commit needs: run scripts/base-images.sh"
        )
    tmp = tmp_path_factory.mktemp("release")
    prefix = f"rel{os.getpid()}"
    harbor.create_project(f"{prefix}-infra")
    robot = harbor.create_robot(f"{prefix}-infra", "release", permissions=PERMISSIONS)
    puller = harbor.create_robot(f"{prefix}-infra", "pull", permissions=("pull",))
    public = f"{harbor.registry_host}/{prefix}-infra/{SERVICE}"

    # This checkout as the tagged commit, and its origin (a bare repository).
    workspace, origin = tmp / "workspace", tmp / "origin.git"
    copy_files(ROOT, workspace, checkout_files(ROOT))
    (workspace / TRUSTED_ROOT).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(sigstore.trusted_root_path, workspace / TRUSTED_ROOT)
    git(tmp, "init", "-q", "--bare", str(origin))
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "remote", "add", "origin", str(origin))
    git(workspace, "add", "-A")
    git(workspace, "-c", "user.name=k1s0 e2e", "-c", "user.email=e2e@k1s0.invalid",
        "commit", "-q", "-m", "source")  # fmt: skip
    sha = git(workspace, "rev-parse", "HEAD")
    git(workspace, "tag", TAG)
    git(workspace, "push", "-q", "origin", "main", TAG)

    base, buildargs = build_base(docker_api, ROOT)
    # The action builds its own Dockerfile with BuildKit, which reads the base from a registry.
    act_buildkit.mirror_image(docker_api, base, base)
    run_id = new_run_id()
    claims = workflow_claims(
        repository=ACTION_REPOSITORY,
        workflow_path=".github/workflows/release.yml",
        ref=f"refs/tags/{TAG}",
        sha=sha,
        run_id=run_id,
    )
    event = {**push_event(sha, "main", ACTION_REPOSITORY), "ref": f"refs/tags/{TAG}"}
    act = MountedActRun(
        workspace=workspace,
        workflow=".github/workflows/release.yml",
        event_name="push",
        event=event,
        variables={
            **stack_variables(harbor, sigstore, prefix),
            "ACTION_IMAGE": public,
            "ACTION_IMAGE_BUILD_ARGS": "\n".join(f"{k}={v}" for k, v in buildargs.items()),
        },
        secrets={"HARBOR_USERNAME": robot.name, "HARBOR_PASSWORD": robot.secret},
        env={**sigstore.issue_env(claims), **act_buildkit.env},
        run_id=run_id,
        mounts=(origin,),
    )
    result = run_act(docker_api, act, tmp / "act", action_image)
    assert result.returncode == 0, result.log[-8000:]
    client = HarborClient(harbor.url, robot.name, robot.secret)
    tags = {
        tag: artifact.digest
        for artifact in client.list_artifacts(f"{prefix}-infra", SERVICE)
        for tag in artifact.tags
    }
    released_ref = yaml.safe_load(git(origin, "show", f"{TAG}:action.yml"))["runs"]["image"]
    yield Released(
        result=result,
        origin=origin,
        source_sha=sha,
        image=public,
        digest=released_ref.rpartition("@")[2],
        harbor_digest=tags.get(TAG.removeprefix("v"), ""),
        prefix=prefix,
        puller=(puller.name, puller.secret),
    )
    forget(docker_api, public)  # what the release built, in the shared engine


def test_the_release_commit_pins_the_pushed_digest_and_moves_the_tags(released: Released) -> None:
    origin = released.origin
    release_commit = git(origin, "rev-parse", f"{TAG}^{{commit}}")
    assert git(origin, "rev-parse", "v1^{commit}") == release_commit
    assert git(origin, "rev-parse", f"{release_commit}^") == released.source_sha
    assert git(origin, "rev-parse", "main") == released.source_sha  # main keeps the Dockerfile
    # by digest, the digest Harbor gated and tagged 1.2.3
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", released.digest)
    assert released.digest == released.harbor_digest
    action = yaml.safe_load(git(origin, "show", f"{TAG}:action.yml"))
    assert action["runs"] == {
        "using": "docker",
        "image": f"docker://{released.image}@{released.digest}",
    }
    assert yaml.safe_load(git(origin, "show", "main:action.yml"))["runs"]["image"] == "Dockerfile"
    # the release commit changes exactly that one line
    diff = git(origin, "diff", "--numstat", released.source_sha, release_commit)
    assert diff.split() == ["1", "1", "action.yml"]


def docker_config(tmp: Path, registry: str, user: str, secret: str) -> Path:
    config = tmp / "docker-config"
    config.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{user}:{secret}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))
    return config


def verify(
    released: Released, sigstore: LocalSigstore, tmp: Path, registry: str, *identity: str
) -> int:
    config = docker_config(tmp, registry, *released.puller)
    env = {"COSIGN": tool("cosign"), "DOCKER_CONFIG": str(config), "HOME": str(tmp)}
    return cli(
        [
            "verify",
            f"{released.image}@{released.digest}",
            f"--certificate-oidc-issuer={sigstore.oidc_url}",
            f"--trusted-root={sigstore.trusted_root_path}",
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            *identity,
        ],
        env,
    )


def test_the_action_image_verifies_with_the_release_workflow_identity(
    released: Released, harbor: LocalHarbor, sigstore: LocalSigstore, tmp_path: Path
) -> None:
    registry = harbor.registry_host
    release = f"--certificate-identity-regexp={RELEASE_IDENTITY}"
    assert verify(released, sigstore, tmp_path, registry, release) == 0
    reusable = "^" + re.escape(f"https://github.com/{REUSABLE.split('@')[0]}") + "@.*$"
    assert verify(released, sigstore, tmp_path, registry,
                  f"--certificate-identity-regexp={reusable}") != 0  # fmt: skip


def test_a_caller_of_the_release_pulls_the_image_instead_of_building(
    released: Released,
    docker_api: docker.APIClient,
    action_image: ActionImage,
    harbor: LocalHarbor,
    sigstore: LocalSigstore,
    act_buildkit: ActBuildKit,
    tmp_path: Path,
) -> None:
    pinned = f"{released.image}@{released.digest}"
    forget(docker_api, released.image)  # the runner has never seen it
    with pytest.raises(docker.errors.ImageNotFound):
        docker_api.inspect_image(pinned)

    # The action's repository at the release tag, as GitHub resolves @v1.
    action_checkout = tmp_path / "action-v1"
    git(tmp_path, "clone", "-q", "--branch", "v1", str(released.origin), str(action_checkout))
    prefix = f"{released.prefix}c"
    harbor.create_project(f"{prefix}-system")
    robot = harbor.create_robot(f"{prefix}-system", "ci", permissions=PERMISSIONS)
    workspace = tmp_path / "service"
    files = [p.relative_to(SAMPLE_SERVICE) for p in SAMPLE_SERVICE.rglob("*") if p.is_file()]
    copy_files(SAMPLE_SERVICE, workspace, files)
    (workspace / TRUSTED_ROOT).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(sigstore.trusted_root_path, workspace / TRUSTED_ROOT)
    flow = workspace / ".github" / "workflows" / "caller.yml"
    flow.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(WORKFLOWS / "caller.yml", flow)
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", "-A")
    git(workspace, "-c", "user.name=k1s0 e2e", "-c", "user.email=e2e@k1s0.invalid",
        "commit", "-q", "-m", "service")  # fmt: skip
    sha = git(workspace, "rev-parse", "HEAD")
    run_id = new_run_id()
    claims = workflow_claims(
        repository=SERVICE_REPOSITORY,
        workflow_path=".github/workflows/caller.yml",
        ref="refs/heads/main",
        sha=sha,
        run_id=run_id,
        job_workflow=REUSABLE,
    )
    variables: dict[str, Any] = {
        **stack_variables(harbor, sigstore, prefix),
        "SERVICE": "svc-released",
        "LAYER": "system",
        "VERSION": "2.0.0",
    }
    act = ActRun(
        workspace=workspace,
        workflow=".github/workflows/caller.yml",
        event_name="push",
        event=push_event(sha, "main", SERVICE_REPOSITORY),
        variables=variables,
        # act pulls a docker:// action image with these (LocalHarbor has no anonymous pulls)
        secrets={
            "HARBOR_USERNAME": robot.name,
            "HARBOR_PASSWORD": robot.secret,
            "DOCKER_USERNAME": released.puller[0],
            "DOCKER_PASSWORD": released.puller[1],
        },
        env={**sigstore.issue_env(claims), **act_buildkit.env},
        local_repositories={f"{ACTION_REPOSITORY}@{ACTION_REF}": action_checkout},
        run_id=run_id,
    )
    result = run_act(docker_api, act, tmp_path / "act", action_image)
    try:
        assert result.returncode == 0, result.log[-8000:]
        assert result.job_result == "success"
        # act's docker:// path: it pulls the pinned reference and builds nothing
        assert f"docker pull image={pinned}" in result.log
        assert "docker build -t act-" not in result.log
        docker_api.inspect_image(pinned)  # absent before the run: act pulled it
        outputs = result.outputs
        assert outputs["scan-status"] == "Success"
        assert outputs["image"] == f"{harbor.registry_host}/{prefix}-system/svc-released"
        assert robot.secret not in result.log
    finally:
        for image in docker_api.images(name=f"{harbor.registry_host}/{prefix}-system/svc-released"):
            for tag in image.get("RepoTags") or []:
                docker_api.remove_image(tag, force=True)
