"""`rescan --open-issues`, the GitHub side: PyGithub against LocalGitHub (the contract-checked
GitHub server of the branch-cleanup work), including a rate-limited API. Skipped until that
server is on this branch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from k1s0_action.policy import Allowlist, Finding, PolicyConfig, decide
from k1s0_action.rescan import Outcome, RescanReport, Target
from k1s0_action.rescanissues import GithubIssues, IssueKind, issue_title, sync_issues

github_stack = pytest.importorskip(
    "k1s0_stack.github", reason="LocalGitHub comes with the branch-cleanup work"
)

pytestmark = pytest.mark.integration

REPOSITORY = "k1s0-org/platform"
PROJECTS = ("k1s0-system",)
DIGEST = "sha256:" + "c" * 64


def outcome(*cves: str) -> Outcome:
    findings = [Finding(cve, "busybox", "1.37.0-r19", "1.37.0-r20", "high") for cve in cves]
    decision = decide(
        findings,
        Allowlist("project k1s0-system", frozenset()),
        PolicyConfig(frozenset({"critical", "high"})),
        datetime.now(UTC),
    )
    target = Target("k1s0-system", "auth", DIGEST, ("latest", "1.4.0"), None)
    return Outcome(target, "Success", True, decision)


@pytest.fixture
def github() -> Iterator[Any]:
    server = github_stack.LocalGitHub(validate=True).start()
    server.create_repository(REPOSITORY)
    yield server
    violations = server.contract_violations()
    server.stop()
    assert not violations, "\n".join(violations)


def test_one_issue_per_failing_image_opened_updated_and_closed(github: Any) -> None:
    tracker = GithubIssues(REPOSITORY, github.token, github.url)
    title = issue_title("k1s0-system/auth")

    done = sync_issues(tracker, RescanReport((outcome("CVE-2099-20001"),)), PROJECTS)
    assert [(a.kind, a.title) for a in done] == [(IssueKind.OPEN, title)]
    (issue,) = github.issues(REPOSITORY)
    assert issue["state"] == "open" and "CVE-2099-20001" in issue["body"]

    # The same state the next day: nothing to do.
    assert sync_issues(tracker, RescanReport((outcome("CVE-2099-20001"),)), PROJECTS) == ()

    # Another finding, while GitHub rate-limits (a secondary limit with Retry-After): waited out.
    github.rate_limit(count=1, status=429, retry_after=1)
    report = RescanReport((outcome("CVE-2099-20001", "CVE-2099-20002"),))
    done = sync_issues(tracker, report, PROJECTS)
    assert [a.kind for a in done] == [IssueKind.UPDATE]
    (issue,) = github.issues(REPOSITORY)
    assert "CVE-2099-20002" in issue["body"]

    # Clean again (a primary limit first, reset in a second): closed with a comment.
    github.rate_limit(count=1, status=403, reset_in=1)
    done = sync_issues(tracker, RescanReport((outcome(),)), PROJECTS)
    assert [a.kind for a in done] == [IssueKind.CLOSE]
    (issue,) = github.issues(REPOSITORY)
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert "is clean again" in issue["comments"][0]["body"]
