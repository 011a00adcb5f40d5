"""Runs the action the way a GitHub runner does: `python entrypoint.py` with INPUT_* and GITHUB_*
set, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY as files, and an event payload on disk. Used by the
integration tests and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k1s0_stack.github.events import push_event

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class ActionRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workspace: Path

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("::error")]

    def text(self) -> str:
        """Everything the run left for a person: log, outputs, summary. The runner consumes
        `::add-mask::` commands, which carry the secret by design, so they are left out."""
        log = [line for line in self.stdout.splitlines() if not line.startswith("::add-mask::")]
        return "\n".join([*log, self.stderr, json.dumps(self.outputs), self.summary])


def parse_outputs(text: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        value = []
        for inner in lines:
            if inner == delimiter:
                break
            value.append(inner)
        outputs[name] = "\n".join(value)
    return outputs


def run_action(
    workspace: Path,
    inputs: dict[str, str],
    *,
    repository: str = "k1s0-org/k1s0",
    ref: str = "refs/heads/main",
    sha: str = DEFAULT_SHA,
    event_name: str = "push",
    event: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    capture: bool = True,
) -> ActionRun:
    runner = workspace / ".runner"
    runner.mkdir(parents=True, exist_ok=True)
    output_file = runner / "output"
    summary_file = runner / "summary"
    event_file = runner / "event.json"
    output_file.write_text("")
    summary_file.write_text("")
    if event is None:  # GitHub-shaped (checked against @octokit/openapi-webhooks by the tests)
        event = (
            push_event(sha, ref, repository)
            if event_name == "push"
            else {"repository": {"default_branch": "main", "full_name": repository}}
        )
    event_file.write_text(json.dumps(event))
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": str(ROOT),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REF": ref,
        "GITHUB_SHA": sha,
        "GITHUB_REPOSITORY": repository,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output_file),
        "GITHUB_STEP_SUMMARY": str(summary_file),
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
        **(env or {}),
    }
    for passthrough in ("DOCKER_HOST", "K1S0_CACHE", "COSIGN"):
        if passthrough in os.environ and passthrough not in environment:
            environment[passthrough] = os.environ[passthrough]
    completed = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=workspace,
        env=environment,
        capture_output=capture,
        text=True,
        timeout=timeout,
        check=False,
    )
    return ActionRun(
        returncode=completed.returncode,
        stdout=completed.stdout or "",
        stderr=completed.stderr or "",
        outputs=parse_outputs(output_file.read_text()),
        summary=summary_file.read_text(),
        workspace=workspace,
    )
