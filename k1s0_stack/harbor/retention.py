"""Harbor's tag retention evaluation ("or" of enabled "retain" rules, doublestar selectors, the
five templates), pure: from candidate artifacts and rules to (kept, deleted). Sources: goharbor/
harbor src/pkg/retention/policy (rules, templates), src/lib/selector/selectors/doublestar."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from k1s0_stack.harbor.errors import bad_request

TEMPLATES = ("always", "latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull")


def retained(
    artifacts: Sequence[Mapping[str, Any]], rules: Sequence[Mapping[str, Any]], project: str
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Harbor's tag retention ("or" of enabled "retain" rules): (kept, deleted) per candidate
    artifact of the repositories the rules' scope selectors match."""
    keep_ids: set[int] = set()
    in_scope: dict[int, Mapping[str, Any]] = {}
    for rule in rules:
        if rule.get("disabled"):
            continue
        repos = [a for a in artifacts if _repo_selected(a["repository"], project, rule)]
        for artifact in repos:
            in_scope[int(artifact["id"])] = artifact
        by_repo: dict[str, list[Mapping[str, Any]]] = {}
        for artifact in repos:
            if _tags_selected(artifact, rule):
                by_repo.setdefault(artifact["repository"], []).append(artifact)
        for candidates in by_repo.values():
            keep_ids.update(int(a["id"]) for a in _template(rule, candidates))
    kept = [a for i, a in in_scope.items() if i in keep_ids]
    deleted = [a for i, a in in_scope.items() if i not in keep_ids]
    return kept, deleted


def _repo_selected(full_name: str, project: str, rule: Mapping[str, Any]) -> bool:
    name = full_name[len(project) + 1 :]
    selectors = (rule.get("scope_selectors") or {}).get("repository") or []
    for selector in selectors:
        matched = _doublestar(name, selector.get("pattern", "**"))
        if selector.get("decoration") == "repoExcludes":
            matched = not matched
        if not matched:
            return False
    return True


def _tags_selected(artifact: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    """Harbor's doublestar tag selector (src/lib/selector/selectors/doublestar): `matches` picks
    an artifact when any tag matches, `excludes` when any tag does not. For an untagged artifact
    the selector's `untagged` flag decides — `matches` picks it when the flag is set, `excludes`
    when it is not; the flag defaults to true for `matches` and false for `excludes`, and any
    non-empty `extras` JSON sets it to its `untagged` value (false when absent)."""
    tags = [t["name"] for t in artifact["tags"]]
    for selector in rule.get("tag_selectors") or []:
        excludes = selector.get("decoration") == "excludes"
        if tags:
            pattern = selector.get("pattern", "**")
            hits = [_doublestar(tag, pattern) for tag in tags]
            picked = not all(hits) if excludes else any(hits)
        else:
            picked = _untagged_flag(selector, excludes) != excludes
        if not picked:
            return False
    return True


def _untagged_flag(selector: Mapping[str, Any], excludes: bool) -> bool:
    default = not excludes
    extras = selector.get("extras") or ""
    if not extras:
        return default
    try:
        parsed = json.loads(extras)
    except ValueError:
        return default
    # Go's json.Unmarshal into {Untagged bool} fails (keeping the default) on anything but an
    # object whose "untagged", if present, is a boolean; an absent key leaves false.
    if not isinstance(parsed, dict) or not isinstance(parsed.get("untagged", False), bool):
        return default
    return bool(parsed.get("untagged", False))


def _template(
    rule: Mapping[str, Any], candidates: list[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    template = rule.get("template")
    params = rule.get("params") or {}
    newest = sorted(candidates, key=lambda a: a["push_time"], reverse=True)
    if template == "always":
        return candidates
    if template == "latestPushedK":
        return newest[: int(params.get("latestPushedK", 0))]
    if template == "latestPulledN":
        pulled = sorted(candidates, key=lambda a: a["pull_time"], reverse=True)
        return pulled[: int(params.get("latestPulledN", 0))]
    if template == "nDaysSinceLastPush":
        limit = datetime.now(UTC) - timedelta(days=int(params.get("nDaysSinceLastPush", 0)))
        return [a for a in candidates if _parse_time(a["push_time"]) >= limit]
    if template == "nDaysSinceLastPull":
        limit = datetime.now(UTC) - timedelta(days=int(params.get("nDaysSinceLastPull", 0)))
        return [a for a in candidates if _parse_time(a["pull_time"]) >= limit]
    raise bad_request(f"unsupported retention template {template}")


def _doublestar(value: str, pattern: str) -> bool:
    """Harbor's doublestar matching, with {a,b} alternatives."""
    match = re.match(r"^(.*)\{([^{}]*)\}(.*)$", pattern)
    if match:
        head, options, tail = match.groups()
        return any(_doublestar(value, head + option + tail) for option in options.split(","))
    if pattern == "**":
        return True
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        else:
            regex += "[^/]" if pattern[index] == "?" else re.escape(pattern[index])
            index += 1
    return re.fullmatch(regex, value) is not None


def _parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
