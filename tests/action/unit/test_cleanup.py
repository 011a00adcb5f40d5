"""Which branch builds the cleanup deletes (T6, R3), as tables: artifact labels and tags, GitHub's
facts about the branch, and the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from k1s0_action.cleanup import (
    BRANCH_LABEL,
    PULL_REQUEST_LABEL,
    SOURCE_LABEL,
    Action,
    BranchFacts,
    BuildArtifact,
    Decision,
    PullRequest,
    Row,
    branch_keys,
    decide,
    not_a_branch_build,
    parse_after,
    report_table,
    select,
)
from k1s0_action.errors import InputError
from k1s0_action.github_api import rate_limit_wait
from k1s0_action.tags import branch_tags

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
REPO = "k1s0-org/auth"


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def build(
    branch: str = "feature/login",
    tags: tuple[str, ...] | None = None,
    pull: int = 0,
    pushed: float = 10,
    source: str = f"https://github.com/{REPO}",
) -> BuildArtifact:
    labels = {SOURCE_LABEL: source} if source else {}
    if branch:
        labels[BRANCH_LABEL] = branch
    if pull:
        labels[PULL_REQUEST_LABEL] = str(pull)
    if tags is None:
        tags = (branch_tags(branch or "x", "a1b2c3d").push_tag,)
    return BuildArtifact("k1s0-system", "auth", "sha256:" + "ab" * 32, tags, ago(pushed), labels)


def merged(number: int, days: float) -> PullRequest:
    return PullRequest(number, "closed", ago(days), ago(days))


def closed(number: int, days: float) -> PullRequest:
    return PullRequest(number, "closed", None, ago(days))


def opened(number: int) -> PullRequest:
    return PullRequest(number, "open", None, None)


def facts(*pulls: PullRequest, exists: bool = True) -> BranchFacts:
    return BranchFacts(REPO, "feature/login", pulls, exists)


@pytest.mark.parametrize(
    ("artifact", "branch", "action", "reason", "pull"),
    [
        # T6: 7 days after the merge.
        (build(), facts(merged(3, 8)), Action.DELETE, "merged", 3),
        (build(), facts(merged(3, 6)), Action.KEEP, "merged, not yet 7 days", 3),
        (build(), facts(merged(3, 7)), Action.DELETE, "merged", 3),
        # Closed without merge: the same, from the close time.
        (build(), facts(closed(4, 8)), Action.DELETE, "closed without merge", 4),
        (build(), facts(closed(4, 2)), Action.KEEP, "closed without merge, not yet 7 days", 4),
        (build(), facts(opened(5)), Action.KEEP, "pull request #5 open", 5),
        # Two pull requests for one branch: a build for a pull request follows that one ...
        (build(pull=3), facts(merged(3, 10), opened(9)), Action.DELETE, "merged", 3),
        (build(pull=9), facts(merged(3, 10), opened(9)), Action.KEEP, "pull request #9 open", 9),
        # ... a push build follows the branch: never while one is open, else the last to end.
        (build(), facts(merged(3, 10), opened(9)), Action.KEEP, "pull request #9 open", 9),
        (build(), facts(closed(3, 20), merged(9, 8)), Action.DELETE, "merged", 9),
        (build(), facts(closed(3, 20), merged(9, 2)), Action.KEEP, "merged, not yet 7 days", 9),
        (build(), facts(merged(3, 2), closed(9, 20)), Action.KEEP, "merged, not yet 7 days", 3),
        # A labelled pull request GitHub does not list (e.g. from before a rename): the branch.
        (build(pull=77), facts(merged(3, 8)), Action.DELETE, "merged", 3),
        # No pull request: kept while the branch exists, then 7 days after the push.
        (build(pushed=30), facts(), Action.KEEP, "branch exists, no pull request", 0),
        (build(pushed=8), facts(exists=False), Action.DELETE, "branch deleted, no pull request", 0),
        (build(pushed=2), facts(exists=False), Action.KEEP, "branch deleted, pushed recently", 0),
    ],
)
def test_decide(
    artifact: BuildArtifact, branch: BranchFacts, action: Action, reason: str, pull: int
) -> None:
    decision = decide(artifact, branch, NOW, WEEK)
    assert (decision.action, decision.reason, decision.pull_request) == (action, reason, pull)


def test_decide_reports_the_merge_time_and_when_it_is_due() -> None:
    decision = decide(build(), facts(merged(3, 6)), NOW, WEEK)
    assert decision.merged and decision.ended_at == ago(6) and decision.due == ago(-1)
    shorter = decide(build(), facts(merged(3, 6)), NOW, timedelta(days=5))
    assert shorter.action is Action.DELETE


@pytest.mark.parametrize(
    ("artifact", "why"),
    [
        (build(), ""),
        (build(tags=()), ""),  # untagged leftover of a branch build
        (build(tags=("feature-login-a1b2c3d", "feature-login-0000000")), ""),
        # A release tag, latest, a <version>-<sha7> or a hand-made tag: never a branch build.
        (build(tags=("feature-login-a1b2c3d", "1.4.0")), "also tagged 1.4.0"),
        (build(tags=("feature-login-a1b2c3d", "latest")), "also tagged latest"),
        (build(tags=("1.4.0-a1b2c3d",)), "also tagged 1.4.0-a1b2c3d"),
        (build(tags=("feature-login-a1b2c3d", "keep-me")), "also tagged keep-me"),
        # The tag of another branch that sanitises alike is not this build's.
        (build(branch="feature/Login", tags=("feature-login-a1b2c3d",)), ""),
        (build(branch="feature/logins", tags=("feature-login-a1b2c3d",)), "also tagged"),
        (build(branch=""), "no dev.k1s0.branch label"),
    ],
)
def test_what_is_a_branch_build(artifact: BuildArtifact, why: str) -> None:
    found = not_a_branch_build(artifact)
    assert found.startswith(why) and bool(found) == bool(why)


def test_a_long_branch_name_is_matched_by_its_cut_tag() -> None:
    branch = "feature/" + "x" * 200
    tag = branch_tags(branch, "a1b2c3d").push_tag
    assert len(tag) == 128
    assert not_a_branch_build(build(branch=branch, tags=(tag,))) == ""


def test_select_by_source_repository() -> None:
    mine = build()
    other = build(source="https://github.example.com/k1s0-org/billing")
    unlabelled = build(source="")
    release = build(tags=("1.4.0", "1.4.0-a1b2c3d"))
    selection = select([mine, other, unlabelled, release], [REPO])
    assert selection.candidates == (mine,)
    assert [d.reason for d in selection.skipped] == [
        "built from k1s0-org/billing",
        "no org.opencontainers.image.source label",
        "also tagged 1.4.0, 1.4.0-a1b2c3d",
    ]
    assert select([mine, other], ["*"]).candidates == (mine, other)
    assert select([mine], ["K1S0-ORG/Auth"]).candidates == (mine,)


def test_two_branches_that_sanitise_to_the_same_tag_are_asked_about_separately() -> None:
    slash = build(branch="feature/auth", tags=("feature-auth-1111111",))
    dash = build(branch="feature-auth", tags=("feature-auth-2222222",))
    assert branch_keys(select([slash, dash, slash], [REPO]).candidates) == [
        (REPO, "feature-auth"),
        (REPO, "feature/auth"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7d", timedelta(days=7)), (" 36h ", timedelta(hours=36)), ("90m", timedelta(minutes=90))],
)
def test_parse_after(text: str, expected: timedelta) -> None:
    assert parse_after(text) == expected


@pytest.mark.parametrize("text", ["", "7", "7 days", "-1d", "1w"])
def test_parse_after_refuses(text: str) -> None:
    with pytest.raises(InputError, match=r"input 'after'.*e\.g\. 7d"):
        parse_after(text)


def test_report_table_escapes_text_from_outside() -> None:
    hostile = build(branch="x|y`<b>\n::error::boom", tags=())
    decision = Decision(hostile, Action.DELETE, "merged", 3, ago(8), True)
    table = report_table([Row(decision, "would delete")])
    lines = table.splitlines()
    assert lines[0] == "| image | tag | branch | PR | merged at | action |"
    assert len(lines) == 3
    row = lines[2]
    assert "x\\|y'&lt;b&gt; ::error::boom" in row
    assert "| #3 | 2026-11-23 12:00 | would delete (merged) |" in row
    assert "untagged sha256:abababababab" in row


def test_report_table_one_line_per_tag_and_closed_pull_requests() -> None:
    two = build(tags=("feature-login-a1b2c3d", "feature-login-0000000"))
    decision = decide(two, facts(closed(4, 8)), NOW, WEEK)
    lines = report_table([Row(decision, "deleted")]).splitlines()[2:]
    assert [line.split(" | ")[1] for line in lines] == [
        "feature-login-a1b2c3d",
        "feature-login-0000000",
    ]
    assert "closed 2026-11-23 12:00" in lines[0]


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (403, {"Retry-After": "30"}, 30.0),
        (429, {"retry-after": "5"}, 5.0),
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1100"}, 101.0),
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "900"}, 1.0),
        (429, {}, 60.0),
        (403, {"X-RateLimit-Remaining": "12"}, None),  # a permission problem, no limit
        (500, {"Retry-After": "1"}, None),
    ],
)
def test_rate_limit_wait(status: int, headers: dict[str, str], expected: float | None) -> None:
    assert rate_limit_wait(status, headers, now=1000.0) == expected
