"""The branch-build cleanup run: walk the layer projects in Harbor, ask GitHub about each branch
once, decide (k1s0_action.cleanup) and, with `apply`, delete.

Each branch is judged and its builds deleted before the next branch is asked about, so a run
that stops (GitHub's rate limit beyond the waiting budget, Harbor down) has finished everything
before that point and a re-run continues from there. An artifact is deleted in one call, with
its tags and accessories, so nothing is left half-deleted; a delete that fails is reported as
failed and ends the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from k1s0_action.cleanup import (
    Action,
    BuildArtifact,
    Decision,
    Row,
    branch_keys,
    decide,
    report_table,
    select,
)
from k1s0_action.errors import ActionError
from k1s0_action.github_api import GitHubClient, GitHubError, GitHubRateLimited
from k1s0_action.harbor import HarborClient, HarborNotFoundError


@dataclass(frozen=True)
class CleanupRequest:
    projects: tuple[str, ...]
    repositories: tuple[str, ...]  # source repositories (OWNER/NAME) whose builds to judge; "*"
    after: timedelta
    apply: bool
    now: datetime


@dataclass(frozen=True)
class CleanupResult:
    rows: tuple[Row, ...]
    skipped: int  # artifacts that are no branch build of the repositories asked about
    missing_projects: tuple[str, ...]
    stopped: str = ""  # why the run stopped early (rate limit), "" when it finished
    failed: str = ""  # the Harbor or GitHub failure that ended the run

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    def headline(self, apply: bool) -> str:
        done = self.count("deleted" if apply else "would delete")
        parts = [
            f"{done} branch build(s) {'deleted' if apply else 'to delete'}",
            f"{self.count('kept')} kept",
            f"{self.skipped} other artifact(s) left alone",
        ]
        for outcome in ("failed", "not reached", "already gone"):
            number = sum(1 for r in self.rows if r.outcome.startswith(outcome))
            if number:
                parts.append(f"{number} {outcome}")
        return ", ".join(parts)

    def markdown(self, apply: bool) -> str:
        mode = "" if apply else " (dry run: nothing deleted; `--apply` deletes)"
        lines = [f"### Branch-build cleanup{mode}", "", self.headline(apply), ""]
        if self.rows:
            lines.append(report_table(self.rows))
        if self.missing_projects:
            lines.append("No such Harbor project: " + ", ".join(self.missing_projects) + "\n")
        if self.stopped:
            lines.append(f"**Stopped early:** {self.stopped}\n")
        if self.failed:
            lines.append(f"**Failed:** {self.failed}\n")
        return "\n".join(lines)


def _artifacts(harbor: HarborClient, project: str) -> Iterator[BuildArtifact]:
    for repository in harbor.list_repositories(project):
        for artifact, labels in harbor.list_labelled_artifacts(project, repository):
            yield BuildArtifact(
                project=project,
                repository=repository,
                digest=artifact.digest,
                tags=artifact.tags,
                push_time=artifact.push_time,
                labels=labels,
            )


def run_cleanup(
    harbor: HarborClient,
    github: GitHubClient,
    request: CleanupRequest,
    log: Callable[[str], None] = lambda _: None,
) -> CleanupResult:
    found: list[BuildArtifact] = []
    missing: list[str] = []
    for project in request.projects:
        try:
            found.extend(_artifacts(harbor, project))
        except HarborNotFoundError:
            missing.append(project)
    selection = select(found, request.repositories)
    keys = branch_keys(selection.candidates)
    log(
        f"{len(selection.candidates)} branch build(s) of {len(keys)} branch(es) in "
        f"{len(request.projects) - len(missing)} project(s); {len(selection.skipped)} other "
        "artifact(s) left alone"
    )
    rows: list[Row] = []
    stopped = failed = ""
    for index, (repository, branch) in enumerate(keys):
        builds = [
            a
            for a in selection.candidates
            if (a.source_repository, a.branch) == (repository, branch)
        ]
        try:
            facts = github.branch_facts(repository, branch)
        except GitHubRateLimited as error:
            stopped = (
                f"{error.diagnostics()}; stopped after {index} of {len(keys)} branches, "
                "everything before was done; a re-run continues"
            )
            rows += _not_reached(selection.candidates, keys[index:])
            break
        except GitHubError as error:
            failed = f"{error.diagnostics()} (after {index} of {len(keys)} branches)"
            rows += _not_reached(selection.candidates, keys[index:])
            break
        decisions = [decide(a, facts, request.now, request.after) for a in builds]
        done, failure = _carry_out(harbor, decisions, request.apply)
        rows += done
        if failure:
            failed = f"{failure} (after {index} of {len(keys)} branches); a re-run continues"
            rows += _not_reached(selection.candidates, keys[index + 1 :])
            break
    return CleanupResult(tuple(rows), len(selection.skipped), tuple(missing), stopped, failed)


def _not_reached(candidates: Sequence[BuildArtifact], keys: Sequence[tuple[str, str]]) -> list[Row]:
    wanted = set(keys)
    return [
        Row(Decision(a, Action.KEEP, ""), "not reached")
        for a in candidates
        if (a.source_repository, a.branch) in wanted
    ]


def _carry_out(
    harbor: HarborClient, decisions: Sequence[Decision], apply: bool
) -> tuple[list[Row], str]:
    rows: list[Row] = []
    for position, decision in enumerate(decisions):
        if decision.action is not Action.DELETE:
            rows.append(Row(decision, "kept"))
            continue
        if not apply:
            rows.append(Row(decision, "would delete"))
            continue
        artifact = decision.artifact
        try:
            harbor.delete_artifact(artifact.project, artifact.repository, artifact.digest)
        except HarborNotFoundError:
            rows.append(Row(decision, "already gone"))
            continue
        except ActionError as error:
            rows.append(Row(decision, f"failed: {error.diagnostics()}"))
            rows += [Row(d, "not reached") for d in decisions[position + 1 :]]
            return rows, f"deleting {artifact.image}@{artifact.digest}: {error.diagnostics()}"
        rows.append(Row(decision, "deleted"))
    return rows, ""
