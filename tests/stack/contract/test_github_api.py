"""The local GitHub server against GitHub's official OpenAPI description (@octokit/openapi), with
PyGithub as the client: every request and response it handles is validated, and each test ends
with no violation. Also: the event payloads the tests hand the action against
@octokit/openapi-webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from github import Auth, Github, GithubException, UnknownObjectException

from k1s0_action.github_api import GitHubClient, GitHubRateLimited
from k1s0_stack.github import LocalGitHub
from k1s0_stack.github.contract import validate_event
from k1s0_stack.github.events import pull_request_event, push_event, workflow_dispatch_event

REPO = "k1s0-org/auth"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def github() -> Iterator[LocalGitHub]:
    server = LocalGitHub(validate=True).start()
    server.create_repository(REPO)
    yield server
    violations = server.contract_violations()
    server.stop()
    assert not violations, "\n".join(violations)


def client(server: LocalGitHub) -> Github:
    return Github(
        base_url=server.url, auth=Auth.Token(server.token), retry=None, per_page=2, lazy=True
    )


def test_pull_requests_of_a_branch(github: LocalGitHub) -> None:
    at = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    first = github.open_pull(REPO, "feature/login")
    github.close_pull(REPO, first, at)
    second = github.open_pull(REPO, "feature/login")
    github.merge_pull(REPO, second, at + timedelta(days=1))
    github.open_pull(REPO, "other")
    for n in range(3):  # more than a page
        github.open_pull(REPO, f"more-{n}")
    repo = client(github).get_repo(REPO)
    pulls = list(repo.get_pulls(state="all", head="k1s0-org:feature/login"))
    assert [(p.number, p.state, p.merged_at, p.closed_at) for p in pulls] == [
        (second, "closed", at + timedelta(days=1), at + timedelta(days=1)),
        (first, "closed", None, at),
    ]
    assert pulls[0].head.ref == "feature/login" and pulls[0].base.ref == "main"
    assert len(list(repo.get_pulls())) == 4  # open ones, over three pages
    assert list(repo.get_pulls(state="all", head="someone-else:feature/login")) == []


def test_branches(github: LocalGitHub) -> None:
    sha = github.push_branch(REPO, "feature/login")
    repo = client(github).get_repo(REPO)
    assert repo.get_branch("feature/login").commit.sha == sha
    assert repo.get_branch("main").name == "main"
    github.delete_branch(REPO, "feature/login")
    with pytest.raises(UnknownObjectException):
        repo.get_branch("feature/login")
    # Octokit's way of sending the same branch (encoded slash) is accepted too.
    github.push_branch(REPO, "feature/login", sha)
    answer = requests.get(
        f"{github.url}/repos/{REPO}/branches/feature%2Flogin",
        headers={"Authorization": f"Bearer {github.token}"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["commit"]["sha"] == sha


def test_issues_list_search_create_update_comment(github: LocalGitHub) -> None:
    repo = client(github).get_repo(REPO)
    made = repo.create_issue(title="Image k1s0-system/auth blocked: CVE-2099-10001", body="x")
    repo.create_issue(title="Something else")
    assert made.number == 1 and made.state == "open"
    found = client(github).search_issues(f'repo:{REPO} is:issue is:open in:title "auth blocked"')
    assert [i.number for i in found] == [1]
    made.create_comment("still blocked")
    assert [c.body for c in repo.get_issue(1).get_comments()] == ["still blocked"]
    made.edit(state="closed")
    assert repo.get_issue(1).state == "closed"
    assert [i.number for i in repo.get_issues(state="open")] == [2]
    assert client(github).search_issues(f"repo:{REPO} is:open blocked").totalCount == 0
    assert github.issues(REPO)[0]["comments"][0]["body"] == "still blocked"


@pytest.mark.parametrize(
    ("status", "retry_after", "reset_in"), [(403, 1, None), (429, 2, None), (403, None, 30)]
)
def test_rate_limits_are_github_shaped(
    github: LocalGitHub, status: int, retry_after: int | None, reset_in: int | None
) -> None:
    github.rate_limit(count=1, status=status, retry_after=retry_after, reset_in=reset_in)
    with pytest.raises(GithubException) as raised:
        client(github).get_repo(REPO).get_branch("main")
    assert raised.value.status == status
    headers = {k.lower(): v for k, v in (raised.value.headers or {}).items()}
    assert headers.get("retry-after") == (str(retry_after) if retry_after else None)
    assert (headers.get("x-ratelimit-remaining") == "0") == (reset_in is not None)
    assert client(github).get_repo(REPO).get_branch("main").name == "main"


def test_the_cleanup_client_waits_within_its_budget_then_stops(github: LocalGitHub) -> None:
    waits: list[float] = []
    cleanup = GitHubClient(github.token, github.url, wait_budget=10, sleep=waits.append)
    github.push_branch(REPO, "gone-soon")
    github.rate_limit(count=2, status=429, retry_after=3)
    assert cleanup.branch_exists(REPO, "gone-soon")
    assert waits == [3.0, 3.0]
    github.rate_limit(count=1, status=403, reset_in=3600)
    limited = r"lifts in 3[56]\d\ds .* budget of 10s \(6s used\)"
    with pytest.raises(GitHubRateLimited, match=limited):
        cleanup.pulls_for_branch(REPO, "gone-soon")
    assert waits == [3.0, 3.0]


def test_a_wrong_token_is_refused(github: LocalGitHub) -> None:
    wrong = Github(base_url=github.url, auth=Auth.Token("wrong"), retry=None, lazy=True)
    repo = wrong.get_repo(REPO)
    with pytest.raises(GithubException) as raised:
        repo.get_branch("main")
    assert raised.value.status == 401


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("push", push_event(SHA, "main", REPO)),
        ("push", push_event(SHA, "feature/login", REPO)),
        ("pull_request", pull_request_event(SHA, "feature/login", REPO, number=7)),
        ("pull_request", pull_request_event(SHA, "feature/x", REPO, number=8, action="opened")),
        ("workflow_dispatch", workflow_dispatch_event("main", REPO, {"apply": "false"})),
    ],
)
def test_event_payloads_are_github_shaped(name: str, payload: dict[str, object]) -> None:
    assert validate_event(name, payload) == []


def test_event_validation_finds_a_made_up_payload() -> None:
    problems = validate_event("push", {"ref": "refs/heads/main", "repository": {}})
    assert problems and any("'after' is a required property" in p for p in problems)
