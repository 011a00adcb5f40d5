"""The plan from the git context: which event builds which tags (T4, T5; pull requests)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from k1s0_action.context import git_context
from k1s0_action.naming import Layer
from k1s0_action.plan import PlanRequest, make_plan

SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
HEAD_SHA = "fedcba9876543210fedcba9876543210fedcba98"
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
REQUEST = PlanRequest("auth", Layer.SYSTEM, "v1.4.0", "", "harbor.example.com", "k1s0")
ROOT = Path(__file__).resolve().parents[3]


def env(**extra: str) -> dict[str, str]:
    return {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_SHA": SHA,
        "GITHUB_REPOSITORY": "k1s0-org/k1s0",
        "GITHUB_SERVER_URL": "https://github.com",
        **extra,
    }


PULL_EVENT = {
    "pull_request": {
        "head": {"ref": "feature/login", "sha": HEAD_SHA, "repo": {"full_name": "k1s0-org/k1s0"}}
    },
    "repository": {"default_branch": "main", "full_name": "k1s0-org/k1s0"},
}


@pytest.mark.parametrize(
    ("environment", "event", "push_tag", "promote"),
    [
        (env(), {}, "1.4.0-a1b2c3d", ("1.4.0", "latest")),
        (env(GITHUB_REF="refs/heads/feature/auth"), {}, "feature-auth-a1b2c3d", ()),
        (
            env(GITHUB_REF="refs/heads/trunk"),
            {"repository": {"default_branch": "trunk"}},
            "1.4.0-a1b2c3d",
            ("1.4.0", "latest"),
        ),
        (env(), {"repository": {"default_branch": "trunk"}}, "main-a1b2c3d", ()),
        (
            env(GITHUB_EVENT_NAME="pull_request", GITHUB_REF="refs/pull/7/merge"),
            PULL_EVENT,
            "feature-login-fedcba9",
            (),
        ),
        (env(GITHUB_REF="refs/tags/v1.4.0"), {}, "1.4.0-a1b2c3d", ("1.4.0", "latest")),
    ],
)
def test_tags_follow_the_event(
    environment: dict[str, str], event: dict[str, object], push_tag: str, promote: tuple[str, ...]
) -> None:
    plan = make_plan(REQUEST, git_context(environment, event), NOW)
    assert plan.tags.push_tag == push_tag
    assert plan.tags.promote_tags == promote


def test_pull_request_builds_the_head_commit_not_the_merge_commit() -> None:
    context = git_context(
        env(GITHUB_EVENT_NAME="pull_request", GITHUB_REF="refs/pull/7/merge"), PULL_EVENT
    )
    plan = make_plan(REQUEST, context, NOW)
    assert dict(plan.labels)["org.opencontainers.image.revision"] == HEAD_SHA


def test_feature_branch_ignores_a_non_semver_version() -> None:
    request = PlanRequest("auth", Layer.SYSTEM, "dev", "", "harbor.example.com", "k1s0")
    plan = make_plan(request, git_context(env(GITHUB_REF="refs/heads/wip"), {}), NOW)
    assert plan.tags.push_tag == "wip-a1b2c3d"


def test_labels() -> None:
    plan = make_plan(REQUEST, git_context(env(), {}), NOW)
    assert dict(plan.labels) == {
        "org.opencontainers.image.created": "2026-11-28T12:00:00Z",
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.source": "https://github.com/k1s0-org/k1s0",
        "org.opencontainers.image.title": "auth",
        "org.opencontainers.image.version": "1.4.0",
    }


def run_plan(*args: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "k1s0_action", "plan", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **environment},
        check=False,
    )


def test_plan_command_reads_the_action_environment(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "main"}}))
    result = run_plan(
        environment={
            **env(),
            "GITHUB_EVENT_PATH": str(event),
            "INPUT_SERVICE": "ledger",
            "INPUT_LAYER": "business",
            "INPUT_DOMAIN": "accounting",
            "INPUT_VERSION": "2.0.0",
        }
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["image"] == "harbor.internal.example.com/k1s0-business/accounting-ledger"
    assert plan["tags"] == ["2.0.0-a1b2c3d", "2.0.0", "latest"]
    assert plan["push_tag"] == "2.0.0-a1b2c3d"
    assert plan["promote_tags"] == ["2.0.0", "latest"]
    assert plan["labels"]["org.opencontainers.image.version"] == "2.0.0"


def test_plan_flags_win_over_the_environment() -> None:
    result = run_plan(
        "--service=order",
        "--layer=service",
        "--version=1.0.0",
        "--ref=refs/heads/feature/x",
        f"--sha={HEAD_SHA}",
        "--registry=registry.local:5000",
        environment=env(INPUT_SERVICE="ignored", INPUT_LAYER="system"),
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["image"] == "registry.local:5000/k1s0-service/order"
    assert plan["tags"] == ["feature-x-fedcba9"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--service=auth", "--layer=platform", "--version=1.0.0"], "'layer'"),
        (["--service=Auth", "--layer=system", "--version=1.0.0"], "'service'"),
        (["--service=auth", "--layer=system", "--version=latest"], "'version'"),
        (["--service=auth", "--layer=business", "--version=1.0.0"], "'domain'"),
    ],
)
def test_plan_bad_input_exits_2_with_one_line(args: list[str], named: str) -> None:
    result = run_plan(*args, environment=env())
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert named in lines[0]
