"""The HTTP side shared by every API resource module: Harbor's JSON and error answers, paging,
query flags, the request body, the caller, and the protocol of the running server the views use
(so that the API modules need not import the server that mounts them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from flask import Blueprint, Response, g, request

from k1s0_stack.harbor.errors import bad_request
from k1s0_stack.harbor.records import Allowlist, Artifact
from k1s0_stack.harbor.service import Harbor, Principal
from k1s0_stack.harbor.settings import Mimic

if TYPE_CHECKING:
    from k1s0_stack.harbor.sbom import SbomGenerator

API = "/api/v2.0"


class ScanStarter(Protocol):
    def request(self, artifact: Artifact) -> None: ...

    def stop_scan(self, artifact: Artifact) -> None: ...


class ServerContext(Protocol):
    """What the API views need from the running server (implemented by server.LocalHarbor)."""

    @property
    def harbor(self) -> Harbor: ...

    @property
    def url(self) -> str: ...

    @property
    def registry_host(self) -> str: ...

    @property
    def scanner(self) -> ScanStarter: ...

    @property
    def mimic(self) -> Mimic: ...

    @property
    def sbom(self) -> SbomGenerator: ...

    def delete_manifest(self, repository: str, digest: str) -> None: ...


def allowlist_json(allowlist: Allowlist) -> dict[str, Any]:
    """Harbor's CVEAllowlist model: id and project_id omitted when 0 (the system list),
    expires_at omitted when null."""
    shown: dict[str, Any] = {
        k: v for k, v in allowlist.items() if not (k in ("id", "project_id") and not v)
    }
    if shown.get("expires_at") is None:
        shown.pop("expires_at", None)
    return shown


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json"
    )


def errors_response(status: int, code: str, message: str) -> Response:
    return json_response({"errors": [{"code": code, "message": message}]}, status)


def empty(status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(b"", status=status, headers=dict(headers or {}))


def caller() -> Principal | None:
    """The authenticated caller of this request, or None (set by the server's before_request)."""
    found: Principal | None = g.get("principal")
    return found


def page(items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    number = max(int(request.args.get("page", 1)), 1)
    size = min(max(int(request.args.get("page_size", 10)), 1), 100)
    return items[(number - 1) * size : number * size], {"X-Total-Count": str(len(items))}


def flag(name: str, default: bool) -> bool:
    value = request.args.get(name)
    return default if value is None else value.lower() == "true"


def body() -> dict[str, Any]:
    try:
        data = request.get_json(force=True, silent=False) if request.get_data() else {}
    except Exception as exc:
        raise bad_request("invalid JSON body") from exc
    if not isinstance(data, dict):
        raise bad_request("the request body must be a JSON object")
    return data


def by_resource_name() -> bool:
    return request.headers.get("X-Is-Resource-Name") == "true"


Route = Callable[[str, str, list[str]], Callable[[Callable[..., Response]], Any]]


def router(bp: Blueprint) -> Route:
    """`@route(rule, operationId, methods)`: the view's endpoint name is the swagger operationId,
    which is also the name faults are injected by."""

    def route(
        rule: str, operation: str, methods: list[str]
    ) -> Callable[[Callable[..., Response]], Any]:
        return bp.route(API + rule, endpoint=operation, methods=methods)

    return route
