"""GitHub's JSON objects for the local server, made from the examples in GitHub's own API
description (each example is copied, its owner/repository URLs rewritten, and the fields the
server models set), so every answer has exactly the shape GitHub documents."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from k1s0_stack.github.contract import document

EXAMPLE_REPOSITORY = "octocat/Hello-World"


def _example(name: str) -> Any:
    value = document()["components"]["examples"][name]["value"]
    return copy.deepcopy(value[0] if isinstance(value, list) else value)


def _rewrite(value: Any, old: str, new: str) -> Any:
    return json.loads(json.dumps(value).replace(old, new))


def stamp(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _for_repository(value: Any, repository: str, api: str, web: str) -> Any:
    value = _rewrite(
        value, f"https://api.github.com/repos/{EXAMPLE_REPOSITORY}", f"{api}/repos/{repository}"
    )
    return _rewrite(value, f"https://github.com/{EXAMPLE_REPOSITORY}", f"{web}/{repository}")


def user(login: str, api: str, web: str, number: int = 1) -> dict[str, Any]:
    found: dict[str, Any] = _rewrite(
        _example("pull-request-simple-items")["user"], "octocat", login
    )
    found = _rewrite(found, "https://api.github.com", api)
    found = _rewrite(found, "https://github.com", web)
    found.update({"id": number, "login": login, "type": "User", "site_admin": False})
    return found


def repository(
    full_name: str, number: int, default_branch: str, api: str, web: str
) -> dict[str, Any]:
    """The `repository` schema (as in a pull request's head and base)."""
    found: dict[str, Any] = _example("pull-request-simple-items")["head"]["repo"]
    found = _for_repository(found, full_name, api, web)
    owner, _, name = full_name.partition("/")
    found.update(
        {
            "id": number,
            "name": name,
            "full_name": full_name,
            "owner": user(owner, api, web),
            "default_branch": default_branch,
            "private": False,
            "fork": False,
        }
    )
    return found


def pull_request(
    pull: Mapping[str, Any], repo: Mapping[str, Any], api: str, web: str
) -> dict[str, Any]:
    """`pull-request-simple`, as GET /repos/{owner}/{repo}/pulls lists it."""
    full_name = str(repo["full_name"])
    found: dict[str, Any] = _for_repository(
        _example("pull-request-simple-items"), full_name, api, web
    )
    found = _rewrite(found, "/1347", f"/{pull['number']}")
    shown_repo = repository(full_name, int(repo["id"]), str(repo["default_branch"]), api, web)
    owner = full_name.split("/", 1)[0]
    author = user(str(pull.get("author", owner)), api, web, 2)
    found.update(
        {
            "id": int(pull["id"]),
            "number": int(pull["number"]),
            "state": pull["state"],
            "locked": False,
            "title": pull["title"],
            "body": None,
            "user": author,
            "labels": [],
            "milestone": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "created_at": stamp(pull["created_at"]),
            "updated_at": stamp(pull["updated_at"]),
            "closed_at": stamp(pull.get("closed_at")),
            "merged_at": stamp(pull.get("merged_at")),
            "merge_commit_sha": pull.get("merge_commit_sha"),
            "author_association": "MEMBER",
            "auto_merge": None,
            "draft": False,
        }
    )
    found.pop("active_lock_reason", None)
    for side in ("head", "base"):
        ref = str(pull[f"{side}_ref"])
        found[side].update(
            {
                "label": f"{owner}:{ref}",
                "ref": ref,
                "sha": pull[f"{side}_sha"],
                "user": user(owner, api, web),
                "repo": shown_repo,
            }
        )
    return found


def branch(name: str, sha: str, repo: Mapping[str, Any], api: str, web: str) -> dict[str, Any]:
    """`branch-with-protection`, unprotected, as GET /repos/{owner}/{repo}/branches/{branch}."""
    full_name = str(repo["full_name"])
    found: dict[str, Any] = _for_repository(_example("branch-with-protection"), full_name, api, web)
    found = _rewrite(found, "7fd1a60b01f91b314f59955a4e4d4e80d8edf11d", sha)
    found.update(
        {
            "name": name,
            "protected": False,
            "protection": {
                "enabled": False,
                "required_status_checks": {
                    "enforcement_level": "off",
                    "contexts": [],
                    "checks": [],
                },
            },
            "protection_url": f"{api}/repos/{full_name}/branches/{name}/protection",
            "_links": {
                "self": f"{api}/repos/{full_name}/branches/{name}",
                "html": f"{web}/{full_name}/tree/{name}",
            },
        }
    )
    return found


def issue(item: Mapping[str, Any], repo: Mapping[str, Any], api: str, web: str) -> dict[str, Any]:
    """`issue`, as the issue endpoints return it."""
    full_name = str(repo["full_name"])
    found: dict[str, Any] = _for_repository(_example("issue"), full_name, api, web)
    found = _rewrite(found, "/1347", f"/{item['number']}")
    found.update(
        {
            "id": int(item["id"]),
            "number": int(item["number"]),
            "state": item["state"],
            "state_reason": item.get("state_reason"),
            "title": item["title"],
            "body": item.get("body"),
            "user": user(str(item.get("author", "k1s0-bot")), api, web, 3),
            "labels": [],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(item.get("comments", [])),
            "created_at": stamp(item["created_at"]),
            "updated_at": stamp(item["updated_at"]),
            "closed_at": stamp(item.get("closed_at")),
            "closed_by": None,
            "author_association": "MEMBER",
        }
    )
    found.pop("pull_request", None)
    found.pop("repository", None)
    if found["state_reason"] is None:
        # GitHub sends null, but the description's enum does not list it (OpenAPI 3.0 reads
        # `nullable` with an enum as "null only if listed"); the property is optional.
        del found["state_reason"]
    return found


def search_item(
    item: Mapping[str, Any], repo: Mapping[str, Any], api: str, web: str
) -> dict[str, Any]:
    """`issue-search-result-item`: the issue plus a score."""
    found = issue(item, repo, api, web)
    allowed = document()["components"]["schemas"]["issue-search-result-item"]["properties"]
    shown = {k: v for k, v in found.items() if k in allowed}
    shown["score"] = 1.0
    return shown


def comment(
    item: Mapping[str, Any], issue_number: int, repo: Mapping[str, Any], api: str, web: str
) -> dict[str, Any]:
    """`issue-comment`."""
    full_name = str(repo["full_name"])
    found: dict[str, Any] = _for_repository(_example("issue-comment"), full_name, api, web)
    found.update(
        {
            "id": int(item["id"]),
            "body": item["body"],
            "user": user(str(item.get("author", "k1s0-bot")), api, web, 3),
            "created_at": stamp(item["created_at"]),
            "updated_at": stamp(item["created_at"]),
            "issue_url": f"{api}/repos/{full_name}/issues/{issue_number}",
            "html_url": f"{web}/{full_name}/issues/{issue_number}#issuecomment-{item['id']}",
            "url": f"{api}/repos/{full_name}/issues/comments/{item['id']}",
            "author_association": "MEMBER",
        }
    )
    return found


def error(message: str, documentation_url: str, status: int) -> dict[str, Any]:
    """`basic-error`, the body of GitHub's error answers."""
    return {"message": message, "documentation_url": documentation_url, "status": str(status)}
