"""GitHub's REST API through PyGithub: the facts the branch-build cleanup needs about a branch.

`GITHUB_API_URL` is honoured (GitHub Enterprise Server: https://HOST/api/v3). Rate limits (403 or
429 with Retry-After, or with X-RateLimit-Remaining 0 and X-RateLimit-Reset) are waited out while
the run's waiting budget lasts; beyond it GitHubRateLimited says when the limit resets, and the
caller stops cleanly. 5xx and dropped connections are retried a few times with backoff.
PyGithub's own retries are off so that every wait is this module's, counted against the budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

import requests
from github import Auth, Github, GithubException, UnknownObjectException
from github.PullRequest import PullRequest as GhPullRequest

from k1s0_action.cleanup import BranchFacts, PullRequest
from k1s0_action.errors import ActionError
from k1s0_action.retry import Backoff

DEFAULT_API_URL = "https://api.github.com"
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: without headers, wait at least a minute
T = TypeVar("T")


class GitHubError(ActionError):
    """GitHub refused or failed a request the cleanup needs."""


class GitHubRateLimited(GitHubError):
    """A rate limit that would take longer than the remaining waiting budget."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def rate_limit_wait(status: int, headers: Mapping[str, str] | None, now: float) -> float | None:
    """Seconds GitHub asks to wait, or None when the answer is no rate limit (GitHub docs,
    "Rate limits for the REST API": Retry-After first, then X-RateLimit-Reset when remaining is 0,
    else at least a minute for a secondary limit)."""
    if status not in (403, 429):
        return None
    retry_after = _header(headers, "Retry-After")
    if retry_after.strip().isdigit():
        return float(retry_after)
    if _header(headers, "X-RateLimit-Remaining").strip() == "0":
        reset = _header(headers, "X-RateLimit-Reset").strip()
        if reset.isdigit():
            return max(0.0, int(reset) - now) + 1.0
        return SECONDARY_LIMIT_WAIT
    return SECONDARY_LIMIT_WAIT if status == 429 else None


class GitHubClient:
    """One token's view of GitHub, with a waiting budget shared by every call of the run."""

    def __init__(
        self,
        token: str,
        api_url: str = "",
        wait_budget: float = 300.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self.github = Github(
            base_url=self.api_url,
            auth=Auth.Token(token) if token else None,
            retry=None,
            per_page=100,
            seconds_between_requests=None,
            seconds_between_writes=None,
            timeout=30,
            lazy=True,  # a repository object costs no request
        )
        self.budget = wait_budget
        self.waited = 0.0
        self.backoff = backoff or Backoff(attempts=4, initial=1.0, maximum=10.0)
        self._sleep = sleep
        self._clock = clock
        self._on_wait = on_wait

    def _call(self, what: str, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except UnknownObjectException:
                raise
            except GithubException as error:
                status = error.status
                wait = rate_limit_wait(status, error.headers, self._clock())
                if wait is None:
                    if status >= 500 and attempt + 1 < self.backoff.attempts:
                        wait = self.backoff.delay(attempt)
                        attempt += 1
                        self._pause(wait, f"GitHub {what} answered {status}")
                        continue
                    raise self._error(what, error) from None
                if self.waited + wait > self.budget:
                    resets = datetime.fromtimestamp(self._clock() + wait, UTC)
                    raise GitHubRateLimited(
                        f"GitHub's rate limit ({status}) on {what}: it lifts in {wait:.0f}s "
                        f"(at {resets:%H:%M:%S} UTC), beyond the waiting budget of "
                        f"{self.budget:.0f}s ({self.waited:.0f}s used)",
                        wait,
                    ) from None
                self._pause(wait, f"GitHub's rate limit ({status}) on {what}")
            except requests.RequestException as error:
                if attempt + 1 >= self.backoff.attempts:
                    raise GitHubError(
                        f"GitHub {what}: {type(error).__name__} from {self.api_url}; "
                        "check GITHUB_API_URL and the network"
                    ) from None
                wait = self.backoff.delay(attempt)
                attempt += 1
                self._pause(wait, f"GitHub {what}: {type(error).__name__}")

    def _pause(self, wait: float, why: str) -> None:
        if self._on_wait:
            self._on_wait(f"{why}: waiting {wait:.1f}s")
        self.waited += wait
        self._sleep(wait)

    def _error(self, what: str, error: GithubException) -> GitHubError:
        message = error.message or str(error.data)[:200]
        if error.status == 401:
            return GitHubError(
                f"GitHub refused the token on {what} (401): pass a valid GITHUB_TOKEN"
            )
        if error.status == 403:
            return GitHubError(
                f"the token may not {what} (403: {message}): grant it "
                "`pull-requests: read` and `contents: read` on that repository"
            )
        return GitHubError(f"GitHub {what} answered {error.status}: {message}")

    # -- facts ---------------------------------------------------------------------------------
    def pulls_for_branch(self, repository: str, branch: str) -> tuple[PullRequest, ...]:
        """Every pull request (open or closed) whose head is `branch` of `repository` itself."""
        owner = repository.split("/", 1)[0]

        def fetch() -> tuple[PullRequest, ...]:
            repo = self.github.get_repo(repository)
            found = repo.get_pulls(state="all", head=f"{owner}:{branch}")
            return tuple(_pull(p) for p in found if p.head.ref == branch)

        try:
            return self._call(f"list the pull requests of {repository}", fetch)
        except UnknownObjectException:
            raise GitHubError(
                f"GitHub has no repository {repository} (404), or the token cannot see it: "
                "check the image's org.opencontainers.image.source label and the token"
            ) from None

    def branch_exists(self, repository: str, branch: str) -> bool:
        def fetch() -> bool:
            self.github.get_repo(repository).get_branch(branch)
            return True

        try:
            return self._call(f"read branch {branch} of {repository}", fetch)
        except UnknownObjectException:
            return False

    def branch_facts(self, repository: str, branch: str) -> BranchFacts:
        pulls = self.pulls_for_branch(repository, branch)
        # Only a branch without pull requests is judged by its existence.
        exists = self.branch_exists(repository, branch) if not pulls else True
        return BranchFacts(repository, branch, pulls, exists)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pull(pull: GhPullRequest) -> PullRequest:
    return PullRequest(
        number=pull.number,
        state=pull.state,
        merged_at=_utc(pull.merged_at),
        closed_at=_utc(pull.closed_at),
    )
