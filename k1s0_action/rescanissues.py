"""One GitHub issue per image that a rescan finds failing the gate (`rescan --open-issues`).

An image's issue is found again by its stable title; it is opened when the image first fails,
its body updated when what fails changes, and it is closed when the image is clean again or has
no deployable digest left. Only images in the projects this run walked are touched. The decision
is pure (`plan_issues`); `GithubIssues` carries it out through PyGithub.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from k1s0_action.rescan import Outcome, RescanReport, images

TITLE_PREFIX = "k1s0-image rescan: "
MARKER = "<!-- k1s0-image rescan -->"


def issue_title(image: str) -> str:
    return f"{TITLE_PREFIX}{image} fails the scan gate"


def _image_of(title: str) -> str:
    return title.removeprefix(TITLE_PREFIX).removesuffix(" fails the scan gate")


@dataclass(frozen=True)
class ExistingIssue:
    number: int
    title: str
    body: str


class IssueKind(StrEnum):
    OPEN = "open"
    UPDATE = "update"
    CLOSE = "close"


@dataclass(frozen=True)
class IssueAction:
    kind: IssueKind
    title: str
    body: str = ""  # the new body (open, update) or the closing comment (close)
    number: int = 0  # the existing issue (update, close)


def issue_body(image: str, failing: Sequence[Outcome]) -> str:
    """Stable for an unchanged state (no times), so that a daily run changes nothing."""
    lines = [
        MARKER,
        f"`k1s0-image rescan` found deployable digests of `{image}` that fail the scan gate now.",
        "",
        "| Tags | Digest | Blocking findings |",
        "|---|---|---|",
    ]
    for outcome in sorted(failing, key=lambda o: o.target.tags):
        blocking = ", ".join(outcome.blocking) or f"no verdict ({outcome.note or 'scan failed'})"
        lines.append(
            f"| {', '.join(f'`{t}`' for t in outcome.target.tags)} "
            f"| `{outcome.target.digest}` | {blocking.replace('|', '/')} |"
        )
    lines += [
        "",
        "Rebuild on a fixed base or package and release a new version, or allow the findings in "
        "Harbor's CVE allowlist. This issue is closed by the next rescan that finds the image "
        "clean.",
    ]
    return "\n".join(lines) + "\n"


def plan_issues(
    report: RescanReport, projects: Iterable[str], existing: Iterable[ExistingIssue]
) -> tuple[IssueAction, ...]:
    walked = set(projects)
    open_issues = {i.title: i for i in existing if i.title.startswith(TITLE_PREFIX)}
    wanted: dict[str, str] = {}
    for image, outcomes in images(report).items():
        failing = [o for o in outcomes if o.failed]
        if failing:
            wanted[issue_title(image)] = issue_body(image, failing)
    actions = []
    for title, body in sorted(wanted.items()):
        issue = open_issues.get(title)
        if issue is None:
            actions.append(IssueAction(IssueKind.OPEN, title, body))
        elif issue.body.strip() != body.strip():
            actions.append(IssueAction(IssueKind.UPDATE, title, body, issue.number))
    for title, issue in sorted(open_issues.items()):
        image = _image_of(title)
        if title in wanted or image.partition("/")[0] not in walked:
            continue
        deployable = image in images(report)
        why = "is clean again" if deployable else "has no deployable digest any more"
        comment = f"The rescan finds that `{image}` {why}; closing."
        actions.append(IssueAction(IssueKind.CLOSE, title, comment, issue.number))
    return tuple(actions)


class IssueTracker(Protocol):
    def existing(self) -> list[ExistingIssue]: ...

    def apply(self, action: IssueAction) -> None: ...


RATE_LIMIT_WAIT = 600.0  # longer than this, a rate limit fails the run instead of stalling it


class GithubIssues:
    """The repository's issues through PyGithub. Its retry waits out rate limits (403 or 429 with
    Retry-After or X-RateLimit-Reset, up to RATE_LIMIT_WAIT) and 5xx, for PATCH too: a limited
    request was not carried out, and setting a body or a state twice is harmless."""

    def __init__(self, repository: str, token: str, api_url: str = "https://api.github.com"):
        from github import Auth, Github, GithubRetry  # only needed with --open-issues

        retry = GithubRetry(
            total=10,
            max_rate_limit_wait=RATE_LIMIT_WAIT,
            status_forcelist=[429, *range(500, 600)],
            allowed_methods=GithubRetry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
        )
        github = Github(base_url=api_url, auth=Auth.Token(token), retry=retry, lazy=True)
        self._repo: Any = github.get_repo(repository)  # lazy: no request

    def existing(self) -> list[ExistingIssue]:
        return [
            ExistingIssue(issue.number, issue.title, issue.body or "")
            for issue in self._repo.get_issues(state="open")
            if issue.title.startswith(TITLE_PREFIX) and issue.pull_request is None
        ]

    def apply(self, action: IssueAction) -> None:
        repo = self._repo
        if action.kind is IssueKind.OPEN:
            repo.create_issue(title=action.title, body=action.body)
            return
        issue = repo.get_issue(action.number)
        if action.kind is IssueKind.UPDATE:
            issue.edit(body=action.body)
            return
        issue.create_comment(action.body)
        issue.edit(state="closed", state_reason="completed")


def sync_issues(
    tracker: IssueTracker, report: RescanReport, projects: Iterable[str]
) -> tuple[IssueAction, ...]:
    actions = plan_issues(report, projects, tracker.existing())
    for action in actions:
        tracker.apply(action)
    return actions
