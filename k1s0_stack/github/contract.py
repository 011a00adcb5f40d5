"""GitHub's API contract: every request and response of the local GitHub server validated with
openapi-core against GitHub's official OpenAPI description, and event payloads against its webhook
descriptions, both from the npm registry (`@octokit/openapi`, `@octokit/openapi-webhooks`, fetched
at pinned versions by scripts/octokit-specs.sh into $K1S0_CACHE/octokit).

Where GitHub's behaviour goes beyond its description, handled here explicitly:
- Rate limits and authentication apply to every endpoint ("Rate limits for the REST API"), so any
  operation can answer 401, 403 or 429 whether or not it lists them. Such a response is accepted
  when its body validates as the spec's `basic-error` schema.
- GitHub routes everything after `/branches/` as the branch name, so `feature/x` may be sent
  unencoded (PyGithub does; Octokit encodes it as `feature%2Fx`). The path is validated with the
  branch name as one encoded segment.
- The description's only server is https://api.github.com; requests are validated as if sent there.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30ReadValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from k1s0_stack.process import CACHE
from k1s0_stack.schema_errors import describe

OPENAPI_VERSION = "23.0.2"  # scripts/octokit-specs.sh
WEBHOOKS_VERSION = "12.1.0"
SPEC_ENV = "K1S0_GITHUB_SPEC"
WEBHOOKS_ENV = "K1S0_GITHUB_WEBHOOKS_SPEC"
SERVER = "https://api.github.com"
ANY_ENDPOINT_ERRORS = (401, 403, 429)
_BRANCH_PATH = re.compile(r"^(/repos/[^/]+/[^/]+/branches/)(.+)$")
_lock = threading.Lock()


def spec_path() -> Path:
    default = CACHE / "octokit" / f"openapi-{OPENAPI_VERSION}" / "package" / "generated"
    return Path(os.environ.get(SPEC_ENV, default / "api.github.com.json"))


def webhooks_path() -> Path:
    default = CACHE / "octokit" / f"openapi-webhooks-{WEBHOOKS_VERSION}" / "package" / "generated"
    return Path(os.environ.get(WEBHOOKS_ENV, default / "api.github.com.json"))


def _load(path: Path, variable: str) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(
            f"GitHub's API description is not at {path}: run scripts/octokit-specs.sh "
            f"(or set {variable})"
        )
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The REST API description (OpenAPI 3.0.3), also the source of the server's payloads."""
    return _load(spec_path(), SPEC_ENV)


@lru_cache(maxsize=1)
def _openapi() -> OpenAPI:
    # The description is GitHub's own and large; checking it against the OpenAPI meta-schema
    # on every start would cost seconds and find nothing the tests depend on.
    from openapi_core import Config

    return OpenAPI.from_dict(document(), config=Config(spec_validator_cls=None))


def _as_sent_to_github(request: requests.PreparedRequest) -> requests.PreparedRequest:
    parts = urlsplit(request.url or "")
    path = parts.path
    branch = _BRANCH_PATH.match(path)
    if branch:
        path = branch.group(1) + quote(branch.group(2), safe="%")
    copy = request.copy()
    copy.url = SERVER + path + (f"?{parts.query}" if parts.query else "")
    return copy


def validate_request(request: requests.PreparedRequest) -> list[str]:
    checked = _as_sent_to_github(request)
    with _lock:
        result = _openapi().unmarshal_request(RequestsOpenAPIRequest(checked))
    return [f"{request.method} {request.path_url}: {describe(e)}" for e in result.errors]


def validate_response(response: requests.Response) -> list[str]:
    """Problems with a response (and the request that produced it) measured against the spec."""
    request = response.request
    assert isinstance(request, requests.PreparedRequest)
    problems = validate_request(request)
    where = f"{request.method} {request.path_url} -> {response.status_code}"
    checked = _as_sent_to_github(request)
    with _lock:
        result = _openapi().unmarshal_response(
            RequestsOpenAPIRequest(checked), RequestsOpenAPIResponse(response)
        )
    for error in result.errors:
        undeclared = type(error).__name__ == "ResponseNotFound"
        if undeclared and response.status_code in ANY_ENDPOINT_ERRORS:
            problems += [f"{where}: {p}" for p in _basic_error_problems(response)]
        else:
            problems.append(f"{where}: {describe(error)}")
    return problems


@lru_cache(maxsize=1)
def _basic_error_schema() -> dict[str, Any]:
    schema: dict[str, Any] = document()["components"]["schemas"]["basic-error"]
    return schema


def _basic_error_problems(response: requests.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return ["error body is not JSON"]
    try:
        validate(body, _basic_error_schema(), cls=OAS30ReadValidator)
    except ValidationError as exc:
        return [f"error body does not match basic-error: {exc.message}"]
    if not isinstance(body, Mapping) or not body.get("message"):
        return ["error body has no message"]
    return []


# -- event payloads (@octokit/openapi-webhooks, OpenAPI 3.1 = JSON Schema 2020-12) ----------------

# The webhook description names one schema per event and action.
EVENT_SCHEMAS = {
    "push": "webhook-push",
    "workflow_dispatch": "webhook-workflow-dispatch",
    "pull_request": "webhook-pull-request-{action}",
    "pull_request_target": "webhook-pull-request-{action}",
}


@lru_cache(maxsize=1)
def _webhooks() -> tuple[dict[str, Any], Registry[Any]]:
    spec = _load(webhooks_path(), WEBHOOKS_ENV)
    resource: Resource[Any] = Resource.from_contents(spec, default_specification=DRAFT202012)
    return spec, Registry().with_resource("urn:octokit:webhooks", resource)


def event_schema_name(event_name: str, payload: Mapping[str, Any]) -> str:
    template = EVENT_SCHEMAS.get(event_name)
    if template is None:
        raise ValueError(f"no webhook schema is mapped for event {event_name!r}")
    return template.format(action=str(payload.get("action", "")).replace("_", "-"))


def validate_event(event_name: str, payload: Mapping[str, Any]) -> list[str]:
    """Problems with an event payload (GITHUB_EVENT_PATH) measured against GitHub's webhook
    description of that event (and action); empty when it is GitHub-shaped."""
    spec, registry = _webhooks()
    name = event_schema_name(event_name, payload)
    if name not in spec["components"]["schemas"]:
        return [f"{event_name}: the webhook description has no schema {name}"]
    validator = Draft202012Validator(
        {"$ref": f"urn:octokit:webhooks#/components/schemas/{name}"}, registry=registry
    )
    return [
        f"{event_name} payload {'/'.join(str(p) for p in e.absolute_path) or '(root)'}: "
        f"{e.message[:200]}"
        for e in sorted(validator.iter_errors(dict(payload)), key=lambda e: list(e.absolute_path))
    ]
