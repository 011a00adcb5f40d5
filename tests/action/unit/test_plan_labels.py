"""The labels that say where a branch build came from (dev.k1s0.branch, dev.k1s0.pull-request),
which the cleanup reads back from Harbor (T6), and `k1s0-image plan` showing them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from k1s0_action.cleanup import BRANCH_LABEL, PULL_REQUEST_LABEL
from k1s0_action.context import git_context
from k1s0_action.naming import Layer
from k1s0_action.plan import PlanRequest, make_plan
from k1s0_stack.github.events import pull_request_event, push_event

SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
REQUEST = PlanRequest("auth", Layer.SYSTEM, "1.4.0", "", "harbor.example.com", "k1s0")
REPO = "k1s0-org/k1s0"
ROOT = Path(__file__).resolve().parents[3]


def env(event_name: str, ref: str) -> dict[str, str]:
    return {
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_REF": ref,
        "GITHUB_SHA": SHA,
        "GITHUB_REPOSITORY": REPO,
    }


@pytest.mark.parametrize(
    ("event_name", "ref", "event", "expected"),
    [
        ("push", "refs/heads/main", push_event(SHA, "main", REPO), {}),
        ("push", "refs/tags/v1.4.0", push_event(SHA, "refs/tags/v1.4.0", REPO), {}),
        (
            "push",
            "refs/heads/feature/Auth_Login",
            push_event(SHA, "feature/Auth_Login", REPO),
            {BRANCH_LABEL: "feature/Auth_Login"},
        ),
        (
            "pull_request",
            "refs/pull/42/merge",
            pull_request_event(SHA, "feature/login", REPO, number=42),
            {BRANCH_LABEL: "feature/login", PULL_REQUEST_LABEL: "42"},
        ),
    ],
)
def test_branch_builds_say_where_they_came_from(
    event_name: str, ref: str, event: dict[str, object], expected: dict[str, str]
) -> None:
    labels = dict(make_plan(REQUEST, git_context(env(event_name, ref), event), NOW).labels)
    assert {k: v for k, v in labels.items() if k.startswith("dev.k1s0.")} == expected
    assert labels["org.opencontainers.image.source"] == f"https://github.com/{REPO}"


def test_plan_command_shows_the_branch_labels(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pull_request_event(SHA, "feature/login", REPO, number=7)))
    result = subprocess.run(
        [sys.executable, "-m", "k1s0_action", "plan", "--service=auth", "--layer=system"],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            **env("pull_request", "refs/pull/7/merge"),
            "GITHUB_EVENT_PATH": str(event),
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr
    labels = json.loads(result.stdout)["labels"]
    assert labels[BRANCH_LABEL] == "feature/login"
    assert labels[PULL_REQUEST_LABEL] == "7"
