"""LocalGitHub: the part of GitHub's REST API the project uses, in memory, on loopback.

Repositories with branches, pull requests (open, merged, closed) and issues (list, search by
title, create, update/close, comment). Every request and response is validated against GitHub's
official OpenAPI description when `validate=True` (k1s0_stack.github.contract); the tests fail on
any violation. Rate limits can be injected (403 or 429, with Retry-After or X-RateLimit-Reset) to
see a client wait them out or stop.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer

from k1s0_stack.github import contract, payloads
from k1s0_stack.process import free_port, serve_wsgi, stop_http

log = logging.getLogger(__name__)
DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000


@dataclass
class RateLimitFault:
    status: int  # 403 or 429
    retry_after: int | None
    reset_in: int | None  # seconds until X-RateLimit-Reset (primary limit, remaining 0)
    count: int


class GitHubError(Exception):
    def __init__(self, status: int, message: str, docs: str = DOCS) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.docs = docs


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


class LocalGitHub:
    def __init__(self, token: str = "", validate: bool = False, port: int = 0) -> None:
        self.token = token or "ghs_" + secrets.token_hex(18)
        self.validate = validate
        self.port = port
        self._lock = threading.RLock()
        self._repos: dict[str, dict[str, Any]] = {}
        self._ids = iter(range(1000, 10**9))
        self._faults: list[RateLimitFault] = []
        self._violations: list[str] = []
        self.requests: list[str] = []  # "GET /repos/o/r/pulls?..." as received
        # Called with each request's "METHOD /path?query" before it is answered: lets a test
        # make something happen at a given point of a run (e.g. a fault elsewhere).
        self.on_request: Callable[[str], None] | None = None
        self._server: BaseWSGIServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalGitHub:
        self.port = self.port or free_port()
        self._server = serve_wsgi(self.port, create_app(self))
        return self

    def stop(self) -> None:
        stop_http(self._server)
        self._server = None

    def __enter__(self) -> LocalGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base URL (what GITHUB_API_URL says)."""
        return f"http://127.0.0.1:{self.port}"

    web_url = "https://github.com"

    # -- state -------------------------------------------------------------------------------
    def create_repository(self, full_name: str, default_branch: str = "main") -> None:
        with self._lock:
            self._repos[full_name.lower()] = {
                "id": next(self._ids),
                "full_name": full_name,
                "default_branch": default_branch,
                "branches": {default_branch: _sha(full_name)},
                "pulls": [],
                "issues": [],
                "created_at": _now(),
            }

    def repo(self, full_name: str) -> dict[str, Any]:
        with self._lock:
            found = self._repos.get(full_name.lower())
            if found is None:
                raise GitHubError(404, "Not Found", f"{DOCS}/repos/repos#get-a-repository")
            return found

    def push_branch(self, full_name: str, branch: str, sha: str | None = None) -> str:
        with self._lock:
            sha = sha or _sha(f"{full_name}:{branch}:{time.monotonic_ns()}")
            self.repo(full_name)["branches"][branch] = sha
            return sha

    def delete_branch(self, full_name: str, branch: str) -> None:
        with self._lock:
            self.repo(full_name)["branches"].pop(branch, None)

    def open_pull(
        self, full_name: str, head: str, title: str = "", created_at: datetime | None = None
    ) -> int:
        with self._lock:
            repo = self.repo(full_name)
            sha = repo["branches"].get(head) or self.push_branch(full_name, head)
            number = len(repo["pulls"]) + len(repo["issues"]) + 1
            moment = created_at or _now()
            repo["pulls"].append(
                {
                    "id": next(self._ids),
                    "number": number,
                    "state": "open",
                    "title": title or f"Build {head}",
                    "head_ref": head,
                    "head_sha": sha,
                    "base_ref": repo["default_branch"],
                    "base_sha": repo["branches"][repo["default_branch"]],
                    "created_at": moment,
                    "updated_at": moment,
                    "closed_at": None,
                    "merged_at": None,
                    "merge_commit_sha": None,
                }
            )
            return number

    def _pull(self, full_name: str, number: int) -> dict[str, Any]:
        pull: dict[str, Any]
        for pull in self.repo(full_name)["pulls"]:
            if pull["number"] == number:
                return pull
        raise KeyError(f"{full_name} has no pull request #{number}")

    def merge_pull(self, full_name: str, number: int, at: datetime) -> None:
        with self._lock:
            pull = self._pull(full_name, number)
            pull.update(
                state="closed", merged_at=at, closed_at=at, updated_at=at,
                merge_commit_sha=_sha(f"merge {full_name} {number}"),
            )  # fmt: skip

    def close_pull(self, full_name: str, number: int, at: datetime) -> None:
        with self._lock:
            self._pull(full_name, number).update(state="closed", closed_at=at, updated_at=at)

    def issues(self, full_name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self.repo(full_name)["issues"]]

    def rate_limit(
        self,
        count: int = 1,
        status: int = 403,
        retry_after: int | None = None,
        reset_in: int | None = None,
    ) -> None:
        """The next `count` API requests hit a rate limit: with `reset_in` the primary one (403,
        X-RateLimit-Remaining 0 and X-RateLimit-Reset), else a secondary one with Retry-After."""
        with self._lock:
            self._faults.append(RateLimitFault(status, retry_after, reset_in, count))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self) -> RateLimitFault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.count -= 1
            if fault.count <= 0:
                self._faults.pop(0)
            return fault

    def contract_violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def record_violations(self, problems: Iterable[str]) -> None:
        with self._lock:
            self._violations.extend(problems)


# -- the WSGI app ---------------------------------------------------------------------------


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    import json

    response = Response(json.dumps(data), status=status, headers=dict(headers or {}))
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    return response


def _page(items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """GitHub's pagination: per_page (30, at most 100), page, and a Link header."""
    per_page = max(1, min(100, int(request.args.get("per_page", "30") or 30)))
    page = max(1, int(request.args.get("page", "1") or 1))
    last = max(1, -(-len(items) // per_page))
    links = []
    base = {k: v for k, v in request.args.items() if k != "page"}
    for rel, number in (("next", page + 1), ("last", last)):
        if page < last:
            query = urlencode({**base, "page": str(number)})
            links.append(f'<{request.base_url}?{query}>; rel="{rel}"')
    headers = {"Link": ", ".join(links)} if links else {}
    return items[(page - 1) * per_page : page * per_page], headers


def create_app(ctx: LocalGitHub) -> Flask:
    app = Flask("k1s0-github")
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    api, web = ctx.url, ctx.web_url

    @app.before_request
    def before() -> Response | None:
        seen = f"{request.method} {request.full_path.rstrip('?')}"
        ctx.requests.append(seen)
        if ctx.on_request is not None:
            ctx.on_request(seen)
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() not in ("token", "bearer") or token != ctx.token:
            raise GitHubError(401, "Bad credentials", DOCS)
        fault = ctx.take_fault()
        if fault is None:
            return None
        headers = {"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Resource": "core"}
        if fault.reset_in is not None:
            message = "API rate limit exceeded for installation ID 1."
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Used"] = str(RATE_LIMIT)
            headers["X-RateLimit-Reset"] = str(int(time.time()) + fault.reset_in)
        else:
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                "try again."
            )
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        docs = f"{DOCS}/overview/rate-limits-for-the-rest-api"
        return _json(payloads.error(message, docs, fault.status), fault.status, headers)

    @app.after_request
    def after(response: Response) -> Response:
        response.headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
        response.headers.setdefault("X-RateLimit-Limit", str(RATE_LIMIT))
        response.headers.setdefault("X-RateLimit-Remaining", str(RATE_LIMIT - 1))
        if ctx.validate:
            try:
                ctx.record_violations(_validate(response))
            except Exception as exc:
                ctx.record_violations([f"{request.method} {request.path}: validator: {exc!r}"])
        return response

    @app.errorhandler(GitHubError)
    def github_error(error: GitHubError) -> Response:
        return _json(payloads.error(error.message, error.docs, error.status), error.status)

    @app.errorhandler(404)
    def unknown(_: Exception) -> Response:
        return _json(payloads.error("Not Found", DOCS, 404), 404)

    @app.errorhandler(Exception)
    def internal(error: Exception) -> Response:
        if isinstance(error, GitHubError):
            return github_error(error)
        log.error(
            "unhandled error on %s %s: %s", request.method, request.path, traceback.format_exc()
        )
        return _json(payloads.error("Server Error", DOCS, 500), 500)

    # -- pull requests and branches ------------------------------------------------------------
    @app.get("/repos/<owner>/<name>/pulls")
    def list_pulls(owner: str, name: str) -> Response:
        repo = ctx.repo(f"{owner}/{name}")
        state = request.args.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise GitHubError(422, "Validation Failed")
        head = request.args.get("head", "")
        head_owner, _, head_ref = head.rpartition(":") if ":" in head else (owner, "", head)
        with ctx._lock:
            found = [
                p
                for p in repo["pulls"]
                if (state == "all" or p["state"] == state)
                and (
                    not head or (head_owner.lower() == owner.lower() and p["head_ref"] == head_ref)
                )
                and (not request.args.get("base") or p["base_ref"] == request.args["base"])
            ]
            found.sort(
                key=lambda p: (p["created_at"], p["number"]),
                reverse=request.args.get("direction") != "asc",
            )
            shown, headers = _page(found)
            body = [payloads.pull_request(p, repo, api, web) for p in shown]
        return _json(body, headers=headers)

    @app.get("/repos/<owner>/<name>/branches/<path:branch>")
    def get_branch(owner: str, name: str, branch: str) -> Response:
        repo = ctx.repo(f"{owner}/{name}")
        with ctx._lock:
            sha = repo["branches"].get(branch)
            if sha is None:
                raise GitHubError(404, "Branch not found", f"{DOCS}/branches/branches#get-a-branch")
            return _json(payloads.branch(branch, sha, repo, api, web))

    # -- issues ------------------------------------------------------------------------------
    def find_issue(repo: Mapping[str, Any], number: int) -> dict[str, Any]:
        item: dict[str, Any]
        for item in repo["issues"]:
            if item["number"] == number:
                return item
        raise GitHubError(404, "Not Found", f"{DOCS}/issues/issues#get-an-issue")

    @app.get("/repos/<owner>/<name>/issues")
    def list_issues(owner: str, name: str) -> Response:
        repo = ctx.repo(f"{owner}/{name}")
        state = request.args.get("state", "open")
        with ctx._lock:
            found = [i for i in repo["issues"] if state == "all" or i["state"] == state]
            found.sort(
                key=lambda i: (i["created_at"], i["number"]),
                reverse=request.args.get("direction") != "asc",
            )
            shown, headers = _page(found)
            body = [payloads.issue(i, repo, api, web) for i in shown]
        return _json(body, headers=headers)

    @app.post("/repos/<owner>/<name>/issues")
    def create_issue(owner: str, name: str) -> Response:
        repo = ctx.repo(f"{owner}/{name}")
        data = request.get_json(silent=True) or {}
        title = data.get("title")
        if not isinstance(title, str) or not title:
            raise GitHubError(422, "Validation Failed", f"{DOCS}/issues/issues#create-an-issue")
        with ctx._lock:
            moment = _now()
            item: dict[str, Any] = {
                "id": next(ctx._ids),
                "number": len(repo["pulls"]) + len(repo["issues"]) + 1,
                "state": "open",
                "state_reason": None,
                "title": title,
                "body": data.get("body"),
                "created_at": moment,
                "updated_at": moment,
                "closed_at": None,
                "comments": [],
            }
            repo["issues"].append(item)
            shown = payloads.issue(item, repo, api, web)
        return _json(shown, 201, {"Location": shown["url"]})

    @app.get("/repos/<owner>/<name>/issues/<int:number>")
    def get_issue(owner: str, name: str, number: int) -> Response:
        repo = ctx.repo(f"{owner}/{name}")
        with ctx._lock:
            return _json(payloads.issue(find_issue(repo, number), repo, api, web))

    @app.patch("/repos/<owner>/<name>/issues/<int:number>")
    def update_issue(owner: str, name: str, number: int) -> Response:
        repo = ctx.repo(f"{owner}/{name}")
        data = request.get_json(silent=True) or {}
        with ctx._lock:
            item = find_issue(repo, number)
            for key in ("title", "body"):
                if isinstance(data.get(key), str):
                    item[key] = data[key]
            state = data.get("state")
            if state in ("open", "closed") and state != item["state"]:
                item["state"] = state
                item["closed_at"] = _now() if state == "closed" else None
                item["state_reason"] = (
                    data.get("state_reason") or "completed" if state == "closed" else "reopened"
                )
            item["updated_at"] = _now()
            return _json(payloads.issue(item, repo, api, web))

    @app.get("/repos/<owner>/<name>/issues/<int:number>/comments")
    def list_comments(owner: str, name: str, number: int) -> Response:
        repo = ctx.repo(f"{owner}/{name}")
        with ctx._lock:
            shown, headers = _page(list(find_issue(repo, number)["comments"]))
            body = [payloads.comment(c, number, repo, api, web) for c in shown]
        return _json(body, headers=headers)

    @app.post("/repos/<owner>/<name>/issues/<int:number>/comments")
    def create_comment(owner: str, name: str, number: int) -> Response:
        repo = ctx.repo(f"{owner}/{name}")
        data = request.get_json(silent=True) or {}
        text = data.get("body")
        if not isinstance(text, str) or not text:
            raise GitHubError(422, "Validation Failed")
        with ctx._lock:
            item = find_issue(repo, number)
            added = {"id": next(ctx._ids), "body": text, "created_at": _now()}
            item["comments"].append(added)
            item["updated_at"] = added["created_at"]
            shown = payloads.comment(added, number, repo, api, web)
        return _json(shown, 201, {"Location": shown["url"]})

    @app.get("/search/issues")
    def search_issues() -> Response:
        query = request.args.get("q", "")
        if not query:
            raise GitHubError(
                422, "Validation Failed", f"{DOCS}/search/search#search-issues-and-pull-requests"
            )
        qualifiers, words = _parse_query(query)
        with ctx._lock:
            repos = (
                [ctx.repo(r) for r in qualifiers.get("repo", [])]
                if "repo" in qualifiers
                else list(ctx._repos.values())
            )
            found = []
            for repo in repos:
                if "pr" in qualifiers.get("is", []):
                    continue  # pull requests are not modelled as search results
                for item in repo["issues"]:
                    states = [s for s in qualifiers.get("is", []) if s in ("open", "closed")]
                    if states and item["state"] not in states:
                        continue
                    if all(w.lower() in item["title"].lower() for w in words):
                        found.append((repo, item))
            shown, headers = _page(found)
            body = {
                "total_count": len(found),
                "incomplete_results": False,
                "search_type": "lexical",
                "items": [payloads.search_item(i, r, api, web) for r, i in shown],
            }
        return _json(body, headers=headers)

    def _validate(response: Response) -> list[str]:
        raw_uri = request.environ.get("REQUEST_URI") or request.full_path
        prepared = requests.Request(
            request.method,
            f"http://{request.host}{raw_uri}",
            headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"},
            data=request.get_data(cache=True) or None,
        ).prepare()
        answer = requests.Response()
        answer.status_code = response.status_code
        answer.headers.update(dict(response.headers))
        answer._content = response.get_data()
        answer.request = prepared
        return contract.validate_response(answer)

    return app


_QUALIFIER = re.compile(r'(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+)')


def _parse_query(query: str) -> tuple[dict[str, list[str]], list[str]]:
    """GitHub's search syntax, as far as issues by title need it: `repo:`, `is:`, `in:title`,
    quoted phrases and words."""
    qualifiers: dict[str, list[str]] = {}
    words: list[str] = []
    for key, value, phrase, word in _QUALIFIER.findall(query):
        if key:
            qualifiers.setdefault(key.lower(), []).append(value.strip('"'))
        elif phrase:
            words.append(phrase)
        elif word:
            words.append(word)
    return qualifiers, words
