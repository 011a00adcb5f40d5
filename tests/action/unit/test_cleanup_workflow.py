"""The reusable cleanup workflow agrees with the cleanup command and asks only for what it needs."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import yaml

from k1s0_action.cli import _parser

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "k1s0-cleanup.yml"
CALLER = ROOT / "tests" / "action" / "e2e" / "workflows" / "cleanup-caller.yml"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def cleanup_flags() -> set[str]:
    subparsers = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    command = subparsers.choices["cleanup"]
    return {flag for action in command._actions for flag in action.option_strings}


def test_the_workflow_runs_the_cleanup_command_with_flags_it_knows() -> None:
    job = load(WORKFLOW)["jobs"]["cleanup"]
    step = job["steps"][-1]
    assert step["uses"] == "k1s0-org/k1s0-image-action@v1"
    assert step["with"]["entrypoint"] == "python3"
    args = step["with"]["args"]
    assert args.startswith("-m k1s0_action cleanup")
    assert set(re.findall(r"--[a-z-]+", args)) <= cleanup_flags()
    assert "${{ steps.flags.outputs.apply }}" in args  # dry run unless asked
    # secrets reach the command through the environment, never its arguments
    assert set(step["env"]) == {"GITHUB_TOKEN", "HARBOR_USERNAME", "HARBOR_PASSWORD"}
    assert "secrets." not in args


def test_the_workflow_asks_for_read_access_only() -> None:
    workflow = load(WORKFLOW)
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["cleanup"]["permissions"] == {
        "contents": "read",
        "pull-requests": "read",
    }


def test_the_example_caller_runs_daily_and_applies_only_on_schedule() -> None:
    caller = load(CALLER)
    on = caller.get("on", caller.get(True))
    assert on["schedule"] == [{"cron": "17 3 * * *"}]
    job = caller["jobs"]["cleanup"]
    assert job["uses"] == "k1s0-org/k1s0-image-action/.github/workflows/k1s0-cleanup.yml@v1"
    assert job["with"]["apply"] == "${{ github.event_name == 'schedule' || inputs.apply }}"
    declared = load(WORKFLOW).get("on", load(WORKFLOW).get(True))["workflow_call"]
    assert set(job["with"]) <= set(declared["inputs"])
    assert set(job["secrets"]) == set(declared["secrets"])
