"""Which branch builds to delete (rules T6, R3): pure selection, no I/O.

A branch build is an artifact the action labelled `dev.k1s0.branch` at build time (the original
branch name: the tag is sanitised and cut, so it cannot be mapped back) whose every tag is
`<sanitised branch>-<sha7>` of that branch. An artifact with any other tag (a release version,
`<version>-<sha7>`, `latest`, or a tag someone added by hand) is never touched; an untagged one
carrying the label is a leftover of an overwritten or half-deleted build and is judged like the
others.

When a branch is done, by the GitHub facts about it:
- its builds for a pull request (label `dev.k1s0.pull-request`) go `after` that pull request was
  merged, or closed without merge;
- its other builds go `after` the last of its pull requests ended, but never while one is open;
- a branch without pull requests goes `after` the build's push once the branch is no longer on
  GitHub; while it exists, its builds stay.
Deleting the branch-build tags leaves no tag, so the artifact goes with them, with its signature
and other accessories (Harbor's deleteArtifact).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from k1s0_action.errors import InputError
from k1s0_action.tags import MAX_TAG_LENGTH, SHORT_SHA_LENGTH, sanitize_branch

BRANCH_LABEL = "dev.k1s0.branch"
PULL_REQUEST_LABEL = "dev.k1s0.pull-request"
SOURCE_LABEL = "org.opencontainers.image.source"
DEFAULT_AFTER = timedelta(days=7)  # T6: "7 days after the merge"
_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_after(text: str) -> timedelta:
    """`7d`, `36h`, `90m`."""
    found = _DURATION.match(text or "")
    if not found:
        raise InputError("after", f"'{text}' is not a duration; write e.g. 7d, 36h or 90m")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


@dataclass(frozen=True)
class BuildArtifact:
    """An artifact of a layer project's repository, as Harbor lists it."""

    project: str
    repository: str  # without the project
    digest: str
    tags: tuple[str, ...]
    push_time: datetime | None
    labels: Mapping[str, str]

    @property
    def branch(self) -> str:
        return self.labels.get(BRANCH_LABEL, "")

    @property
    def pull_request(self) -> int:
        value = self.labels.get(PULL_REQUEST_LABEL, "")
        return int(value) if value.isdigit() else 0

    @property
    def source_repository(self) -> str:
        """OWNER/NAME from the source label (https://github.com/OWNER/NAME, or a GHES host)."""
        parts = self.labels.get(SOURCE_LABEL, "").rstrip("/").removesuffix(".git").split("/")
        return "/".join(parts[-2:]) if len(parts) >= 5 and all(parts[-2:]) else ""

    @property
    def image(self) -> str:
        return f"{self.project}/{self.repository}"


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: str  # open | closed
    merged_at: datetime | None
    closed_at: datetime | None

    @property
    def ended_at(self) -> datetime | None:
        return self.merged_at or self.closed_at


@dataclass(frozen=True)
class BranchFacts:
    """What GitHub says about one branch of one repository."""

    repository: str
    branch: str
    pulls: tuple[PullRequest, ...]
    exists: bool


class Action(StrEnum):
    DELETE = "delete"
    KEEP = "keep"
    SKIP = "skip"  # not a branch build: never considered


@dataclass(frozen=True)
class Decision:
    artifact: BuildArtifact
    action: Action
    reason: str
    pull_request: int = 0
    ended_at: datetime | None = None
    merged: bool = False
    due: datetime | None = None  # when the build becomes deletable

    @property
    def tags(self) -> tuple[str, ...]:
        return self.artifact.tags


def branch_tag_pattern(branch: str) -> re.Pattern[str]:
    """The tags a build of `branch` gets (tags.branch_tags): `<sanitised>-<sha7>`."""
    prefix = sanitize_branch(branch, MAX_TAG_LENGTH - SHORT_SHA_LENGTH - 1)
    return re.compile(re.escape(prefix) + f"-[0-9a-f]{{{SHORT_SHA_LENGTH}}}")


def not_a_branch_build(artifact: BuildArtifact) -> str:
    """Why the artifact is not a branch build ('' when it is one)."""
    if not artifact.branch:
        return f"no {BRANCH_LABEL} label"
    pattern = branch_tag_pattern(artifact.branch)
    others = [tag for tag in artifact.tags if not pattern.fullmatch(tag)]
    if others:
        return "also tagged " + ", ".join(sorted(others))
    return ""


def decide(
    artifact: BuildArtifact, facts: BranchFacts, now: datetime, after: timedelta
) -> Decision:
    """Delete or keep one branch build, given what GitHub says about its branch."""
    labelled = next((p for p in facts.pulls if p.number == artifact.pull_request), None)
    if labelled is not None:
        return _judge_pull(artifact, labelled, now, after)
    open_pulls = [p.number for p in facts.pulls if p.state == "open"]
    if open_pulls:
        shown = ", ".join(f"#{n}" for n in sorted(open_pulls))
        return Decision(
            artifact, Action.KEEP, f"pull request {shown} open", pull_request=min(open_pulls)
        )
    ended = [p for p in facts.pulls if p.ended_at is not None]
    if ended:
        last = max(ended, key=lambda p: (p.ended_at, p.number))
        return _judge_pull(artifact, last, now, after)
    if facts.exists:
        return Decision(artifact, Action.KEEP, "branch exists, no pull request")
    if artifact.push_time is None:
        return Decision(artifact, Action.KEEP, "branch deleted, push time unknown")
    due = artifact.push_time + after
    if now >= due:
        return Decision(artifact, Action.DELETE, "branch deleted, no pull request", due=due)
    return Decision(artifact, Action.KEEP, "branch deleted, pushed recently", due=due)


def _judge_pull(
    artifact: BuildArtifact, pull: PullRequest, now: datetime, after: timedelta
) -> Decision:
    merged = pull.merged_at is not None
    ended = pull.ended_at
    if pull.state == "open" or ended is None:
        return Decision(
            artifact, Action.KEEP, f"pull request #{pull.number} open", pull_request=pull.number
        )
    how = "merged" if merged else "closed without merge"
    due = ended + after
    return Decision(
        artifact,
        Action.DELETE if now >= due else Action.KEEP,
        how if now >= due else f"{how}, not yet {_days(after)}",
        pull_request=pull.number,
        ended_at=ended,
        merged=merged,
        due=due,
    )


def _days(after: timedelta) -> str:
    hours = after.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours % 24 == 0 else f"{hours:g} hours"


@dataclass(frozen=True)
class Selection:
    candidates: tuple[BuildArtifact, ...]  # branch builds of the repositories asked about
    skipped: tuple[Decision, ...]  # everything else, with the reason


def select(artifacts: Iterable[BuildArtifact], repositories: Sequence[str]) -> Selection:
    """The branch builds among `artifacts` whose source is one of `repositories` (`*` = any)."""
    wanted = {r.lower() for r in repositories}
    candidates: list[BuildArtifact] = []
    skipped: list[Decision] = []
    for artifact in artifacts:
        why = not_a_branch_build(artifact)
        if not why and not artifact.source_repository:
            why = f"no {SOURCE_LABEL} label"
        if not why and "*" not in wanted and artifact.source_repository.lower() not in wanted:
            why = f"built from {artifact.source_repository}"
        if why:
            skipped.append(Decision(artifact, Action.SKIP, why))
        else:
            candidates.append(artifact)
    return Selection(tuple(candidates), tuple(skipped))


def branch_keys(candidates: Iterable[BuildArtifact]) -> list[tuple[str, str]]:
    """(repository, branch) pairs to ask GitHub about, each once, in a stable order."""
    return sorted({(a.source_repository, a.branch) for a in candidates})


# -- the report --------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text from Harbor or GitHub in a Markdown table cell: no markup, no line breaks."""
    cleaned = re.sub(r"[\r\n\t]+", " ", text).replace("|", "\\|").replace("`", "'")
    return cleaned.replace("<", "&lt;").replace(">", "&gt;")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@dataclass(frozen=True)
class Row:
    decision: Decision
    outcome: str  # what happened: "would delete", "deleted", "kept", "failed: ...", "not reached"


def report_table(rows: Sequence[Row]) -> str:
    """The Markdown table for the log and the job summary: one line per tag (or untagged)."""
    lines = [
        "| image | tag | branch | PR | merged at | action |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        d = row.decision
        pull = f"#{d.pull_request}" if d.pull_request else ""
        ended = (
            _when(d.ended_at) if d.merged else (f"closed {_when(d.ended_at)}" if d.ended_at else "")
        )
        action = f"{row.outcome} ({d.reason})" if d.reason else row.outcome
        for tag in d.artifact.tags or (f"untagged {d.artifact.digest[:19]}",):
            cells = [d.artifact.image, tag, d.artifact.branch, pull, ended, action]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
