"""Event payloads (GITHUB_EVENT_PATH) shaped as GitHub sends them: push, pull_request and
workflow_dispatch, checked against GitHub's webhook descriptions (@octokit/openapi-webhooks).

Each payload starts as the smallest instance of the event's schema (every required property,
the first choice of every alternative, nothing optional) and then gets the values the run is
about: ref, sha, repository, default branch, pull request number and branches, sender."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from k1s0_stack.github.contract import _webhooks, event_schema_name

MOMENT = "2026-12-01T12:00:00Z"
_FORMATS = {
    "date-time": MOMENT,
    "uri": "https://github.com/",
    "uri-template": "https://api.github.com/{+path}",
    "email": "octocat@users.noreply.github.com",
}


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    spec, _ = _webhooks()
    while "$ref" in node:
        target: Any = spec
        for part in str(node["$ref"]).lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def minimal(schema: Mapping[str, Any], depth: int = 0) -> Any:
    """The smallest instance of `schema` (JSON Schema 2020-12 as the webhook description uses)."""
    node = _resolve(schema)
    if depth > 40:
        return None
    if "allOf" in node:
        merged: dict[str, Any] = {}
        for part in node["allOf"]:
            value = minimal(part, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if key in node:
            choices = [c for c in node[key] if _resolve(c).get("type") != "null"]
            return minimal((choices or node[key])[0], depth + 1)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return next((v for v in node["enum"] if v is not None), None)
    kind = node.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = node.get("properties", {})
        return {
            name: minimal(properties.get(name, {}), depth + 1) for name in node.get("required", [])
        }
    if kind == "array":
        count = int(node.get("minItems", 0))
        return [minimal(node.get("items", {}), depth + 1) for _ in range(count)]
    if kind == "string":
        return _FORMATS.get(str(node.get("format", "")), "x")
    if kind in ("integer", "number"):
        return max(1, int(node.get("minimum", 1)))
    if kind == "boolean":
        return False
    return None


@lru_cache(maxsize=8)
def _skeleton(name: str) -> Any:
    spec, _ = _webhooks()
    return minimal(spec["components"]["schemas"][name])


def _fresh(event_name: str, action: str = "") -> dict[str, Any]:
    import copy

    skeleton = copy.deepcopy(_skeleton(event_schema_name(event_name, {"action": action})))
    assert isinstance(skeleton, dict)
    return skeleton


def _user(login: str) -> dict[str, Any]:
    user = dict(_fresh("workflow_dispatch")["sender"])
    user.update(
        {
            "login": login,
            "id": 1,
            "type": "Organization" if login.endswith("-org") else "User",
            "url": f"https://api.github.com/users/{login}",
            "html_url": f"https://github.com/{login}",
        }
    )
    return user


def _repository(target: dict[str, Any], repository: str, default_branch: str) -> None:
    owner, _, name = repository.partition("/")
    target.update(
        {
            "id": 1,
            "name": name,
            "full_name": repository,
            "private": False,
            "owner": {**target.get("owner", {}), **_user(owner)},
            "html_url": f"https://github.com/{repository}",
            "url": f"https://api.github.com/repos/{repository}",
            "clone_url": f"https://github.com/{repository}.git",
            "default_branch": default_branch,
        }
    )


def push_event(
    sha: str, branch: str, repository: str, default_branch: str = "main", timestamp: str = ""
) -> dict[str, Any]:
    """A push of one commit to `branch` (refs/heads/...), or a tag with refs/tags/...;
    `timestamp` is the head commit's time (ISO 8601), as GitHub gives it."""
    event = _fresh("push")
    ref = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
    commit = {
        **(event["head_commit"] or {}),
        "id": sha,
        "tree_id": sha,
        "distinct": True,
        "message": "e2e",
        "timestamp": timestamp or MOMENT,
        "url": f"https://github.com/{repository}/commit/{sha}",
        "author": {"name": "k1s0 e2e", "email": "e2e@k1s0.invalid"},
        "committer": {"name": "k1s0 e2e", "email": "e2e@k1s0.invalid"},
        "added": [],
        "removed": [],
        "modified": [],
    }
    event.update(
        {
            "ref": ref,
            "before": "0" * 40,
            "after": sha,
            "created": False,
            "deleted": False,
            "forced": False,
            "base_ref": None,
            "compare": f"https://github.com/{repository}/compare/{'0' * 12}...{sha[:12]}",
            "commits": [commit],
            "head_commit": commit,
            "pusher": {"name": "k1s0-e2e", "email": "e2e@k1s0.invalid"},
            "sender": _user("k1s0-e2e"),
        }
    )
    _repository(event["repository"], repository, default_branch)
    return event


def pull_request_event(
    sha: str,
    branch: str,
    repository: str,
    number: int,
    action: str = "synchronize",
    default_branch: str = "main",
    head_repository: str = "",
) -> dict[str, Any]:
    """A pull request from `branch` (of `head_repository`, default the same repository) into
    the default branch; `sha` is the head commit."""
    event = _fresh("pull_request", action)
    pull = event["pull_request"]
    head_repo = head_repository or repository
    pull.update(
        {
            "number": number,
            "state": "open",
            "title": f"Build {branch}",
            "html_url": f"https://github.com/{repository}/pull/{number}",
            "url": f"https://api.github.com/repos/{repository}/pulls/{number}",
            "merged": False,
            "merged_at": None,
            "closed_at": None,
            "user": _user("k1s0-e2e"),
        }
    )
    for side, ref, commit, repo in (
        ("head", branch, sha, head_repo),
        ("base", default_branch, "f" * 40, repository),
    ):
        pull[side].update(
            {
                "ref": ref,
                "sha": commit,
                "label": f"{repo.split('/')[0]}:{ref}",
                "user": _user(repo.split("/")[0]),
            }
        )
        _repository(pull[side]["repo"], repo, default_branch)
    event.update({"action": action, "number": number, "sender": _user("k1s0-e2e")})
    if action == "synchronize":
        event.update({"before": "e" * 40, "after": sha})
    _repository(event["repository"], repository, default_branch)
    return event


def workflow_dispatch_event(
    branch: str,
    repository: str,
    inputs: Mapping[str, str] | None = None,
    workflow: str = ".github/workflows/k1s0-cleanup.yml",
    default_branch: str = "main",
) -> dict[str, Any]:
    event = _fresh("workflow_dispatch")
    event.update(
        {
            "ref": branch if branch.startswith("refs/") else f"refs/heads/{branch}",
            "inputs": dict(inputs or {}),
            "workflow": workflow,
            "sender": _user("k1s0-e2e"),
        }
    )
    _repository(event["repository"], repository, default_branch)
    return event
