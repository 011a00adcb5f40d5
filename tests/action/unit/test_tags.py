"""Tags (rules T1-T7) and versions as tables."""

from __future__ import annotations

import pytest

from k1s0_action.errors import InputError
from k1s0_action.tags import MAX_TAG_LENGTH, branch_tags, release_tags, sanitize_branch, short_sha
from k1s0_action.versioning import TAG_PATTERN, may_take_latest, parse_version

SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


@pytest.mark.parametrize(
    ("version", "push_tag", "promote"),
    [
        ("1.2.3", "1.2.3-a1b2c3d", ("1.2.3", "latest")),
        ("v1.2.3", "1.2.3-a1b2c3d", ("1.2.3", "latest")),
        ("V0.1.0", "0.1.0-a1b2c3d", ("0.1.0", "latest")),
        ("2.0.0-rc.1", "2.0.0-rc.1-a1b2c3d", ("2.0.0-rc.1",)),
        ("1.0.0-alpha", "1.0.0-alpha-a1b2c3d", ("1.0.0-alpha",)),
    ],
)
def test_release_tags(version: str, push_tag: str, promote: tuple[str, ...]) -> None:
    plan = release_tags(parse_version(version), short_sha(SHA))
    assert plan.push_tag == push_tag
    assert plan.promote_tags == promote
    assert plan.all_tags[0] == push_tag


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        ("feature/auth", "feature-auth-a1b2c3d"),
        ("Feature/Auth", "feature-auth-a1b2c3d"),
        ("fix//double", "fix-double-a1b2c3d"),
        ("renovate/node-22.x", "renovate-node-22.x-a1b2c3d"),
        ("user@host#1", "user-host-1-a1b2c3d"),
        (".hidden", "hidden-a1b2c3d"),
        ("///", "branch-a1b2c3d"),
        ("日本語", "branch-a1b2c3d"),
    ],
)
def test_branch_tags(branch: str, expected: str) -> None:
    plan = branch_tags(branch, short_sha(SHA))
    assert plan.push_tag == expected
    assert plan.promote_tags == ()
    assert TAG_PATTERN.match(plan.push_tag)


@pytest.mark.parametrize("length", [100, 120, 121, 200, 500])
def test_long_branch_keeps_the_sha_and_the_limit(length: int) -> None:
    plan = branch_tags("b" * length, short_sha(SHA))
    assert len(plan.push_tag) <= MAX_TAG_LENGTH
    assert plan.push_tag.endswith("-a1b2c3d")
    assert TAG_PATTERN.match(plan.push_tag)


def test_truncation_does_not_leave_a_trailing_separator() -> None:
    assert sanitize_branch("a" * 119 + "-b", room=120) == "a" * 119


@pytest.mark.parametrize(
    "version",
    ["", "1.2", "latest", "1.2.3.4", "01.2.3", "1.2.3+build.5", "v", "1.2.3-" + "x" * 130],
)
def test_bad_versions_are_rejected(version: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_version(version)
    assert raised.value.input_name == "version"


@pytest.mark.parametrize("sha", ["", "xyz1234", "abc12"])
def test_bad_sha(sha: str) -> None:
    with pytest.raises(InputError):
        short_sha(sha)


@pytest.mark.parametrize(
    ("version", "existing", "takes_latest"),
    [
        ("1.2.0", [], True),
        ("1.2.0", ["1.1.0", "1.0.0", "latest", "1.1.0-abc1234"], True),
        ("1.2.0", ["1.2.0"], True),
        ("1.1.5", ["1.2.0", "1.1.4"], False),
        ("2.0.0-rc.1", ["1.0.0"], False),
        ("1.3.0", ["2.0.0-rc.1", "1.2.0"], True),
        ("1.3.0", ["feature-x-abc1234", "v9.9.9"], True),
    ],
)
def test_latest_only_moves_forward(version: str, existing: list[str], takes_latest: bool) -> None:
    assert may_take_latest(parse_version(version), existing) is takes_latest
