"""Harbor's tag-retention policy for one project: rules R1-R3 of the image strategy.

How Harbor applies it (goharbor/harbor `src/pkg/retention`,
`src/lib/selector/selectors/doublestar`): the policy's algorithm is "or": each rule picks, per
repository, the artifacts it retains; an artifact retained by any rule stays and every other
artifact (with all its tags and its accessories, e.g. the cosign signature) is deleted. Rules judge
whole artifacts, not tags: a tag selector with decoration `matches` selects an artifact when ANY of
its tags matches the doublestar pattern (`*` matches any run of characters without `/`, `{a,b}`
alternatives, an empty alternative allowed); an artifact without tags is selected only when the
selector's extras say `{"untagged": true}`, which Harbor assumes when extras are empty, so every
tag selector here states it. `latestPushedK` counts artifacts by their push time (promoting a tag
later does not change it).

The rules, in order:

- **R1** `latestPushedK` 10 over artifacts with a tag matching `*.*.{,0-9}{,0-9}{0-9}`
  (written out as digit alternatives): a tag ending in `.` plus 1-3 digits, i.e. a release version
  `X.Y.Z` (T1). A build tag `<version>-<sha7>` (T2) ends in the sha and does not match; it sits on
  the same digest as its release tag, so the release artifact is counted once, and an unpromoted
  `<version>-<sha7>` (gate failed, or still being scanned) is not counted as a version. Each bare
  version tag lives on exactly one artifact, so 10 artifacts = the 10 most recently pushed
  versions. Not exact semver: a pre-release whose last identifier is numeric (`1.3.0-rc.1`) counts
  as a version too; `1.3.0-rc1` does not (Harbor's patterns cannot say "digits only").
- **R2** `always` over artifacts tagged `latest`: the one artifact `latest` points to.
- **R3, backstop** `nDaysSinceLastPush` 30 over every artifact, tagged or not. Branch builds are
  deleted exactly 7 days after their pull request was merged (or closed, or their branch deleted)
  by `k1s0-image cleanup` (k1s0_action.cleanup), which asks GitHub; Harbor knows nothing of
  merges. This rule only catches what the cleanup cannot see or judge (builds without the branch
  label, repositories whose cleanup workflow does not run, untagged leftovers) 30 days after
  their push. It cannot be limited to branch builds: Harbor's tag selectors see all tags of an
  artifact (`excludes` selects an artifact when any tag does not match), and every release
  artifact also carries a `<version>-<sha7>` tag. So it retains all artifacts younger than 30
  days, which also protects a build between its push and its promotion; the cost is that a
  release beyond the 10 newest stays until it is 30 days old, and an untagged or unpromoted
  artifact is kept for 30 days.

Runs on the optional cron schedule (Harbor's six-field cron, seconds first), or when triggered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k1s0_action.errors import InputError

RELEASES_KEPT = 10  # R1
LATEST_TAG = "latest"  # R2
BRANCH_BUILD_DAYS = 30  # R3's backstop; the cleanup deletes branch builds 7 days after merge

_DIGIT = "{0,1,2,3,4,5,6,7,8,9}"
_OPTIONAL_DIGIT = "{,0,1,2,3,4,5,6,7,8,9}"
# Optional digits first, so the pattern ends in a digit that must be there rather than in an
# alternative that has to match nothing (a corner of doublestar v1 this need not rely on).
RELEASE_PATTERN = f"*.*.{_OPTIONAL_DIGIT}{_OPTIONAL_DIGIT}{_DIGIT}"


@dataclass(frozen=True)
class RetentionRequest:
    project_id: int
    schedule: str = ""  # Harbor cron, "" = no schedule (manual runs only)
    releases_kept: int = RELEASES_KEPT
    branch_days: int = BRANCH_BUILD_DAYS


def check_schedule(cron: str) -> str:
    """Harbor's schedules are six-field cron expressions (seconds first)."""
    cron = " ".join(cron.split())
    if cron and len(cron.split(" ")) != 6:
        raise InputError(
            "schedule",
            f"'{cron}' is not a Harbor cron expression: give six fields, seconds first, "
            "e.g. '0 0 3 * * *' for 03:00 every day",
        )
    return cron


def _selector(decoration: str, pattern: str, untagged: bool | None = None) -> dict[str, str]:
    selector = {"kind": "doublestar", "decoration": decoration, "pattern": pattern}
    if untagged is not None:  # tag selectors only
        selector["extras"] = json.dumps({"untagged": untagged})
    return selector


def _rule(template: str, params: Mapping[str, int], tags: dict[str, str]) -> dict[str, Any]:
    return {
        "disabled": False,
        "action": "retain",
        "template": template,
        "params": dict(params),
        "tag_selectors": [tags],
        "scope_selectors": {"repository": [_selector("repoMatches", "**")]},
    }


def render_policy(request: RetentionRequest) -> dict[str, Any]:
    """The RetentionPolicy body (Harbor swagger) for createRetention/updateRetention."""
    if request.releases_kept < 1 or request.branch_days < 1:
        raise InputError("retention", "keeps at least one release and one day of branch builds")
    return {
        "algorithm": "or",
        "rules": [
            _rule(
                "latestPushedK",
                {"latestPushedK": request.releases_kept},
                _selector("matches", RELEASE_PATTERN, False),
            ),
            _rule("always", {}, _selector("matches", LATEST_TAG, False)),
            _rule(
                "nDaysSinceLastPush",
                {"nDaysSinceLastPush": request.branch_days},
                _selector("matches", "**", True),
            ),
        ],
        "trigger": {
            "kind": "Schedule",
            "settings": {"cron": check_schedule(request.schedule)},
            "references": {},
        },
        "scope": {"level": "project", "ref": request.project_id},
    }


def _number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def comparable(policy: Mapping[str, Any]) -> dict[str, Any]:
    """What a policy does, without the ids and priorities Harbor adds, so a stored policy and a
    rendered one compare equal when applying would change nothing."""
    rules = []
    for rule in policy.get("rules") or []:
        rules.append(
            {
                "disabled": bool(rule.get("disabled")),
                "action": rule.get("action") or "retain",
                "template": rule.get("template"),
                "params": {k: _number(v) for k, v in (rule.get("params") or {}).items()},
                "tag_selectors": [dict(s) for s in rule.get("tag_selectors") or []],
                "scope_selectors": {
                    k: [dict(s) for s in v] for k, v in (rule.get("scope_selectors") or {}).items()
                },
            }
        )
    trigger = policy.get("trigger") or {}
    settings = trigger.get("settings") or {}
    return {
        "algorithm": policy.get("algorithm") or "or",
        "rules": rules,
        "trigger": {"kind": trigger.get("kind") or "", "cron": settings.get("cron") or ""},
        "scope": dict(policy.get("scope") or {}),
    }


def change(stored: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> str:
    """What applying `wanted` does to the project's `stored` policy: create, update or nothing."""
    if stored is None:
        return "create"
    return "unchanged" if comparable(stored) == comparable(wanted) else "update"
