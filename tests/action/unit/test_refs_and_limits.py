"""Which refs release what, Docker's length limits, the commit time as `created`, and pull
request payloads without a head (README: bad inputs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from k1s0_action.context import commit_time, git_context
from k1s0_action.errors import InputError
from k1s0_action.naming import Layer
from k1s0_action.plan import PlanRequest, make_plan

SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def request(version: str = "", service: str = "auth", registry: str = "h.example") -> PlanRequest:
    return PlanRequest(service, Layer.SYSTEM, version, "", registry, "k1s0")


def env(ref: str, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": ref,
        "GITHUB_SHA": SHA,
        "GITHUB_REPOSITORY": "k1s0-org/k1s0",
        **extra,
    }


@pytest.mark.parametrize(
    ("ref", "version", "push_tag", "promote", "released"),
    [
        ("refs/tags/v9.9.9", "", "9.9.9-a1b2c3d", ("9.9.9", "latest"), "9.9.9"),
        ("refs/tags/2.0.0-rc.1", "", "2.0.0-rc.1-a1b2c3d", ("2.0.0-rc.1",), "2.0.0-rc.1"),
        ("refs/tags/v9.9.9", "9.9.9", "9.9.9-a1b2c3d", ("9.9.9", "latest"), "9.9.9"),
        ("refs/tags/v9.9.9", "v9.9.9", "9.9.9-a1b2c3d", ("9.9.9", "latest"), "9.9.9"),
        ("refs/tags/nightly", "", "nightly-a1b2c3d", (), None),
        ("refs/tags/nightly", "1.2.3", "nightly-a1b2c3d", (), None),
        ("refs/tags/v1.2", "", "v1.2-a1b2c3d", (), None),
    ],
)
def test_git_tags(
    ref: str, version: str, push_tag: str, promote: tuple[str, ...], released: str | None
) -> None:
    plan = make_plan(request(version), git_context(env(ref), {}), NOW)
    assert plan.tags.push_tag == push_tag
    assert plan.tags.promote_tags == promote
    assert (str(plan.version) if plan.version else None) == released
    assert plan.version_label == (released or push_tag)


def test_a_tag_ref_and_a_different_version_input_are_refused_naming_both() -> None:
    with pytest.raises(InputError) as raised:
        make_plan(request("1.2.3"), git_context(env("refs/tags/v9.9.9"), {}), NOW)
    assert raised.value.input_name == "version"
    assert "'1.2.3'" in str(raised.value) and "'v9.9.9'" in str(raised.value)


def test_a_version_that_makes_the_push_tag_too_long_is_refused() -> None:
    version = "1.2.3-" + "a" * 115  # 121 characters: the push tag would be 129
    with pytest.raises(InputError) as raised:
        make_plan(request(version), git_context(env("refs/heads/main"), {}), NOW)
    assert raised.value.input_name == "version"
    assert "129 characters" in str(raised.value)


def test_the_image_name_counts_the_registry_host() -> None:
    long_service = "s" * 215  # 'h.example/k1s0-system/' + 215 = 237: fine
    make_plan(request("1.0.0", long_service), git_context(env("refs/heads/main"), {}), NOW)
    registry = "harbor.internal.example.com"  # 27 + 13 + 243 = 283
    with pytest.raises(InputError) as raised:
        make_plan(
            request("1.0.0", "s" * 243, registry), git_context(env("refs/heads/main"), {}), NOW
        )
    assert raised.value.input_name == "service"
    assert "283 characters" in str(raised.value)


@pytest.mark.parametrize(
    ("pull", "missing"),
    [
        (None, "head.sha"),
        ({"head": {"ref": "feature/x"}}, "head.sha"),
        ({"head": {"sha": SHA}}, "head.ref"),
    ],
)
def test_pull_request_without_its_head_is_refused(
    pull: dict[str, object] | None, missing: str
) -> None:
    event: dict[str, object] = {"repository": {"default_branch": "main"}}
    if pull is not None:
        event["pull_request"] = pull
    with pytest.raises(InputError) as raised:
        git_context(env("refs/pull/7/merge", GITHUB_EVENT_NAME="pull_request"), event)
    assert missing in str(raised.value)


def test_created_comes_from_source_date_epoch() -> None:
    context = git_context(env("refs/heads/main", SOURCE_DATE_EPOCH="1700000000"), {})
    plan = make_plan(request("1.0.0"), context, context.created(NOW))
    assert dict(plan.labels)["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"


def test_created_comes_from_the_push_event_when_git_does_not_know_the_commit() -> None:
    event = {"head_commit": {"id": SHA, "timestamp": "2026-01-02T03:04:05+09:00"}}
    assert commit_time({"GITHUB_WORKSPACE": "/nonexistent"}, event, SHA) == datetime(
        2026, 1, 1, 18, 4, 5, tzinfo=UTC
    )
    assert commit_time({"GITHUB_WORKSPACE": "/nonexistent"}, {}, SHA) is None


def test_created_comes_from_git(tmp_path: object) -> None:
    import subprocess
    from pathlib import Path

    repo = Path(str(tmp_path))
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run(
        [*git, "commit", "-q", "--allow-empty", "-m", "x"],
        check=True,
        env={"GIT_COMMITTER_DATE": "2025-05-06T07:08:09Z", "PATH": "/usr/bin:/bin"},
    )
    sha = subprocess.run(
        [*git[:3], "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert commit_time({"GITHUB_WORKSPACE": str(repo)}, {}, sha) == datetime(
        2025, 5, 6, 7, 8, 9, tzinfo=UTC
    )


def test_bad_source_date_epoch_is_named() -> None:
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        git_context(env("refs/heads/main", SOURCE_DATE_EPOCH="yesterday"), {})
