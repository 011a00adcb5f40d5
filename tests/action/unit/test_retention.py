"""The tag-retention policy (R1-R3): its shape, its idempotency check, and what it keeps when
evaluated with LocalHarbor's model of Harbor's retention ("or" of retain rules, doublestar)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from k1s0_action.cli import main
from k1s0_action.errors import InputError
from k1s0_action.harbor import parse_project
from k1s0_action.retention import (
    RELEASE_PATTERN,
    RetentionRequest,
    change,
    check_schedule,
    render_policy,
)
from k1s0_stack.harbor.retention import retained


@pytest.mark.parametrize(
    ("cron", "expected"),
    [("", ""), ("0 0 3 * * *", "0 0 3 * * *"), ("  0 0 3  * * * ", "0 0 3 * * *")],
)
def test_schedule_accepts_harbor_cron(cron: str, expected: str) -> None:
    assert check_schedule(cron) == expected


@pytest.mark.parametrize("cron", ["0 3 * * *", "daily", "0 0 0 3 * * *"])
def test_schedule_refuses_other_cron(cron: str) -> None:
    with pytest.raises(InputError, match="six fields"):
        check_schedule(cron)


def test_policy_shape() -> None:
    policy = render_policy(RetentionRequest(project_id=42, schedule="0 0 3 * * *"))
    assert policy["algorithm"] == "or"
    assert policy["scope"] == {"level": "project", "ref": 42}
    assert policy["trigger"]["settings"] == {"cron": "0 0 3 * * *"}
    rules = policy["rules"]
    assert [(r["template"], r["params"]) for r in rules] == [
        ("latestPushedK", {"latestPushedK": 10}),
        ("always", {}),
        ("nDaysSinceLastPush", {"nDaysSinceLastPush": 30}),
    ]
    assert [r["tag_selectors"][0]["pattern"] for r in rules] == [RELEASE_PATTERN, "latest", "**"]
    # Harbor treats empty extras as untagged=true: every tag selector says it explicitly.
    assert [json.loads(r["tag_selectors"][0]["extras"]) for r in rules] == [
        {"untagged": False},
        {"untagged": False},
        {"untagged": True},
    ]
    assert all(r["action"] == "retain" and not r["disabled"] for r in rules)


def _stored(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as Harbor answers GetRetention: ids, priorities, numbers as floats."""
    rules = [
        {**r, "id": i, "priority": i, "params": {k: float(v) for k, v in r["params"].items()}}
        for i, r in enumerate(policy["rules"], start=1)
    ]
    return {**policy, "id": 9, "rules": rules}


def test_change() -> None:
    wanted = render_policy(RetentionRequest(project_id=1))
    assert change(None, wanted) == "create"
    assert change(_stored(wanted), wanted) == "unchanged"
    assert change(_stored(wanted), render_policy(RetentionRequest(1, "0 0 3 * * *"))) == "update"
    assert change(_stored(wanted), render_policy(RetentionRequest(1, releases_kept=5))) == "update"
    edited = _stored(wanted)
    edited["rules"][2]["disabled"] = True
    assert change(edited, wanted) == "update"


NOW = datetime.now(UTC)


def _artifact(number: int, tags: list[str], days_old: float) -> dict[str, Any]:
    pushed = (NOW - timedelta(days=days_old)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": number,
        "repository": "k1s0-system/auth",
        "tags": [{"name": t} for t in tags],
        "push_time": pushed,
        "pull_time": "0001-01-01T00:00:00.000Z",
    }


def _kept(artifacts: list[dict[str, Any]]) -> list[int]:
    kept, _ = retained(artifacts, render_policy(RetentionRequest(1))["rules"], "k1s0-system")
    return sorted(int(a["id"]) for a in kept)


# 12 releases, oldest first, each with its <version>-<sha7> build tag, all older than 30 days.
RELEASES = [
    _artifact(n, [f"1.{n}.0", f"1.{n}.0-abc{n:04d}"], days_old=100 - n) for n in range(1, 13)
]


@pytest.mark.parametrize(
    ("extra", "kept_extra", "oldest_release_kept"),
    [
        ([], [], 3),
        # R3's backstop: branch builds the cleanup did not delete go 30 days after their push
        # (the cleanup deletes them 7 days after the merge; the policy cannot tell merges).
        ([_artifact(101, ["feature-auth-a1b2c3d"], 31)], [], 3),
        ([_artifact(101, ["feature-auth-a1b2c3d"], 8)], [101], 3),
        ([_artifact(101, ["123-fix-a1b2c3d"], 1)], [101], 3),
        # An unpromoted build is no version: kept while young, then deleted.
        ([_artifact(101, ["2.0.0-deadbee"], 2)], [101], 3),
        ([_artifact(101, ["2.0.0-deadbee"], 31)], [], 3),
        # Untagged leftovers: 30 days.
        ([_artifact(101, [], 9), _artifact(102, [], 31)], [101], 3),
        # A pre-release with a numeric last identifier counts as a version (documented).
        ([_artifact(101, ["2.0.0-rc.1", "2.0.0-rc.1-1234567"], 40)], [101], 4),
        # A new release pushes the oldest of the ten out.
        ([_artifact(101, ["1.13.0", "1.13.0-1234567"], 10)], [101], 4),
        # 11 releases in a week: all stay (R3 cannot skip releases), older ones but `latest` go.
        ([_artifact(100 + n, [f"2.{n}.0"], 1) for n in range(11)], list(range(100, 111)), 12),
    ],
)
def test_what_is_kept(
    extra: list[dict[str, Any]], kept_extra: list[int], oldest_release_kept: int
) -> None:
    releases = [dict(a) for a in RELEASES]
    releases[-1]["tags"] = [*releases[-1]["tags"], {"name": "latest"}]
    assert _kept(releases + extra) == [*range(oldest_release_kept, 13), *kept_extra]


def test_latest_survives_beyond_ten_versions() -> None:
    releases = [dict(a) for a in RELEASES]
    releases[0]["tags"] = [*releases[0]["tags"], {"name": "latest"}]  # rolled back to 1.1.0
    assert _kept(releases) == [1, *range(3, 13)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retention-policy", "--project-id", "3"], "--project NAME or --layer"),
        (["retention-policy", "--project", "p", "--layer", "system"], "not both"),
        (["retention-policy", "--project", "p"], "harbor-url"),
        (["retention-policy", "--project", "p", "--apply"], "harbor-url"),
        (["retention-policy", "--layer", "nope", "--project-id", "3"], "layer"),
        (
            ["retention-policy", "--project", "p", "--project-id", "3", "--schedule", "@daily"],
            "six",
        ),
        (["retention-policy", "--project", "p", "--harbor-url", "http://127.0.0.1:9"], "HARBOR_"),
    ],
)
def test_cli_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, env={}) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_cli_prints_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "retention-policy",
        "--layer",
        "system",
        "--project-id",
        "3",
        "--schedule",
        "0 0 3 * * *",
    ]
    assert main(argv, env={}) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == render_policy(RetentionRequest(project_id=3, schedule="0 0 3 * * *"))


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({"retention_id": "12"}, 12), ({}, 0), ({"retention_id": ""}, 0), ({"retention_id": "x"}, 0)],
)
def test_project_retention_id(metadata: dict[str, str], expected: int) -> None:
    assert (
        parse_project({"project_id": 1, "name": "p", "metadata": metadata}).retention_id == expected
    )
