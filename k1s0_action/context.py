"""What the workflow run says about the commit being built (from GITHUB_* and the event payload)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from k1s0_action.environment import allowlisted
from k1s0_action.errors import InputError

DEFAULT_SERVER_URL = "https://github.com"
_HEX = re.compile(r"^[0-9a-f]{7,64}$")


@dataclass(frozen=True)
class GitContext:
    event_name: str
    ref: str
    sha: str
    head_ref: str
    default_branch: str
    repository: str
    server_url: str = DEFAULT_SERVER_URL
    run_id: str = ""
    run_attempt: str = ""
    workflow_ref: str = ""
    head_repository: str = ""
    pull_request: int = 0  # the pull request's number on pull_request events
    # When the commit was made: the image's `created` label, the same on every re-run.
    commit_time: datetime | None = None

    def created(self, now: datetime) -> datetime:
        return self.commit_time or now

    @property
    def branch(self) -> str:
        """The branch being built: the head branch of a pull request, else the pushed branch."""
        if self.head_ref:
            return self.head_ref
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref

    @property
    def is_pull_request(self) -> bool:
        return self.event_name in ("pull_request", "pull_request_target")

    @property
    def is_fork_pull_request(self) -> bool:
        return (
            self.is_pull_request
            and bool(self.head_repository)
            and self.head_repository != self.repository
        )

    @property
    def source_url(self) -> str:
        return f"{self.server_url.rstrip('/')}/{self.repository}" if self.repository else ""


def load_event(path: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError(
            "GITHUB_EVENT_PATH", f"cannot read the event payload {path}: {exc}"
        ) from None
    return data if isinstance(data, dict) else {}


def _dig(data: Mapping[str, Any], *keys: str) -> str:
    node: Any = data
    for key in keys:
        if not isinstance(node, Mapping):
            return ""
        node = node.get(key)
    return node if isinstance(node, str) else ""


def _pull_number(event: Mapping[str, Any]) -> int:
    pull = event.get("pull_request")
    number = pull.get("number") if isinstance(pull, Mapping) else None
    number = number if number is not None else event.get("number")
    return number if isinstance(number, int) and not isinstance(number, bool) else 0


def git_context(
    env: Mapping[str, str],
    event: Mapping[str, Any],
    overrides: Mapping[str, str | None] | None = None,
) -> GitContext:
    """Reads the run's git facts; `overrides` (CLI flags) win over the environment."""
    given = {k: v for k, v in (overrides or {}).items() if v}
    event_name = given.get("event_name") or env.get("GITHUB_EVENT_NAME", "push")
    pull = event.get("pull_request") if isinstance(event.get("pull_request"), Mapping) else None
    if event_name.startswith("pull_request"):
        # Build what the author pushed, never GitHub's synthetic merge commit (GITHUB_SHA).
        sha = _dig(pull or {}, "head", "sha")
        head_ref = _dig(pull or {}, "head", "ref") or env.get("GITHUB_HEAD_REF", "")
        head_repository = _dig(pull or {}, "head", "repo", "full_name")
        for name, value in (
            ("sha", given.get("sha") or sha),
            ("ref", given.get("head_ref") or head_ref),
        ):
            if not value:
                raise InputError(
                    "GITHUB_EVENT_PATH",
                    f"the {event_name} event has no pull_request.head.{name}, so the commit the "
                    "author pushed is unknown; run the action on a pull_request event payload",
                )
    else:
        sha = env.get("GITHUB_SHA", "")
        head_ref = env.get("GITHUB_HEAD_REF", "")
        head_repository = ""
    context = GitContext(
        event_name=event_name,
        ref=given.get("ref") or env.get("GITHUB_REF", ""),
        sha=given.get("sha") or sha,
        head_ref=given.get("head_ref") or head_ref,
        default_branch=given.get("default_branch")
        or _dig(event, "repository", "default_branch")
        or "main",
        repository=env.get("GITHUB_REPOSITORY", "") or _dig(event, "repository", "full_name"),
        server_url=env.get("GITHUB_SERVER_URL", DEFAULT_SERVER_URL),
        run_id=env.get("GITHUB_RUN_ID", ""),
        run_attempt=env.get("GITHUB_RUN_ATTEMPT", ""),
        workflow_ref=env.get("GITHUB_WORKFLOW_REF", ""),
        head_repository=head_repository,
        pull_request=_pull_number(event) if event_name.startswith("pull_request") else 0,
    )
    if context.sha:
        context = _with_commit_time(context, env, event)
    if not context.sha:
        raise InputError("sha", "no commit sha: set GITHUB_SHA or pass --sha")
    if not context.branch:
        raise InputError("ref", "no branch: set GITHUB_REF or pass --ref refs/heads/<branch>")
    return context


def _with_commit_time(
    context: GitContext, env: Mapping[str, str], event: Mapping[str, Any]
) -> GitContext:
    return replace(context, commit_time=commit_time(env, event, context.sha))


def commit_time(env: Mapping[str, str], event: Mapping[str, Any], sha: str) -> datetime | None:
    """SOURCE_DATE_EPOCH when set (the reproducible-builds convention), else the commit's time
    from the checkout's git, else from the push event's payload; None when none says."""
    epoch = env.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        if not epoch.isdigit():
            raise InputError("SOURCE_DATE_EPOCH", f"'{epoch}' is not a number of seconds")
        return datetime.fromtimestamp(int(epoch), UTC)
    workspace = env.get("GITHUB_WORKSPACE") or "."
    found = _git_commit_time(workspace, sha, allowlisted(env)) if _HEX.match(sha) else None
    if found:
        return found
    for commit in (event.get("head_commit"), *(event.get("commits") or [])):
        if isinstance(commit, Mapping) and commit.get("id") == sha:
            stamp = commit.get("timestamp")
            if isinstance(stamp, str):
                try:
                    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
                except ValueError:
                    return None
    return None


def _git_commit_time(workspace: str, sha: str, env: Mapping[str, str]) -> datetime | None:
    try:
        done = subprocess.run(
            # The checkout may belong to another user (container actions run as root).
            ["git", "-c", "safe.directory=*", "-C", workspace, "log", "-1", "--format=%ct", sha],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env=dict(env),
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.strip()
    return (
        datetime.fromtimestamp(int(text), UTC) if done.returncode == 0 and text.isdigit() else None
    )
