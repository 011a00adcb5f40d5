"""Harbor's API contract: requests and responses validated with openapi-core against Harbor's own
OpenAPI description (v2.15.2, converted to OpenAPI 3; see ../shared/harbor/README.md).

Two places where Harbor's behaviour goes beyond its description, handled here explicitly:
- Harbor sends every error through one handler, so an operation can answer an error status its
  description does not list (409 from scanArtifact, 404 from getProject, 429/503 from a proxy in
  front). Such a response is accepted when its body validates as Harbor's `Errors` schema.
- getVulnerabilitiesAddition is declared as a JSON *string*; Harbor writes the report's JSON text
  as the body. The body must be a JSON object, and its text is validated as the declared string.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30ReadValidator, validate
from jsonschema.exceptions import ValidationError

SPEC_ENV = "K1S0_HARBOR_SPEC"
_REPO = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = _REPO.parent / "shared" / "harbor" / "openapi3-v2.15.2.yaml"
OPAQUE_JSON_OPERATIONS = frozenset({"getVulnerabilitiesAddition"})
_lock = threading.Lock()


def spec_path() -> Path:
    """The spec beside the checkout (<repo>/../shared/harbor/...), or $K1S0_HARBOR_SPEC."""
    return Path(os.environ.get(SPEC_ENV, DEFAULT_SPEC))


@lru_cache(maxsize=1)
def _openapi() -> OpenAPI:
    path = spec_path()
    if not path.exists():
        raise FileNotFoundError(f"Harbor's API spec is not at {path}; set {SPEC_ENV}")
    return OpenAPI.from_file_path(str(path))


@lru_cache(maxsize=1)
def _errors_schema() -> dict[str, Any]:
    """The spec's Errors schema with its Error items inlined."""
    schemas = _openapi().spec / "components" / "schemas"
    with (schemas / "Errors").open() as errors, (schemas / "Error").open() as error:
        inlined: dict[str, Any] = json.loads(json.dumps(dict(errors)))
        inlined["properties"]["errors"]["items"] = json.loads(json.dumps(dict(error)))
    return inlined


def validate_request(request: requests.PreparedRequest) -> list[str]:
    """Problems with a request a Harbor client built (empty when it matches the spec)."""
    with _lock:
        result = _openapi().unmarshal_request(RequestsOpenAPIRequest(request))
    return [f"{request.method} {request.path_url}: {_describe(e)}" for e in result.errors]


def validate_response(response: requests.Response, operation: str | None = None) -> list[str]:
    """Problems with a response (and the request that produced it) measured against the spec."""
    request = response.request
    assert isinstance(request, requests.PreparedRequest)
    problems = validate_request(request)
    where = f"{request.method} {request.path_url} -> {response.status_code}"
    checked = response
    if operation in OPAQUE_JSON_OPERATIONS and response.status_code == 200:
        try:
            document = json.loads(response.content or b"null")
        except ValueError:
            return [*problems, f"{where}: body is not JSON"]
        if not isinstance(document, dict):
            return [*problems, f"{where}: body is not a JSON object"]
        checked = _with_body(response, json.dumps(response.text).encode())
    with _lock:
        result = _openapi().unmarshal_response(
            RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(checked)
        )
    for error in result.errors:
        name = type(error).__name__
        if request.method == "HEAD" and name == "MissingData":
            continue  # a HEAD answer has no body, whatever the status declares
        if response.status_code >= 400 and name == "ResponseNotFound":
            problems += [f"{where}: {p}" for p in _errors_body_problems(response)]
        else:
            problems.append(f"{where}: {_describe(error)}")
    return problems


def _errors_body_problems(response: requests.Response) -> list[str]:
    if response.request is not None and response.request.method == "HEAD":
        return []
    try:
        body = response.json()
    except ValueError:
        return ["error body is not JSON"]
    try:
        validate(body, _errors_schema(), cls=OAS30ReadValidator)
    except ValidationError as exc:
        return [f"error body does not match Errors: {exc.message}"]
    if not isinstance(body, Mapping) or not body.get("errors"):
        return ["error body has no errors"]
    return []


def _with_body(response: requests.Response, body: bytes) -> requests.Response:
    copy = requests.Response()
    copy.status_code = response.status_code
    copy.headers = response.headers
    copy._content = body
    copy.request = response.request
    copy.url = response.url
    return copy


def _describe(error: Exception) -> str:
    """The innermost schema errors (with their JSON paths), else the error's own text."""
    current: BaseException | None = error
    while current is not None:
        found = getattr(current, "schema_errors", None)
        if found:
            return "; ".join(
                f"{'/'.join(str(p) for p in getattr(e, 'absolute_path', []))}: "
                f"{str(getattr(e, 'message', e))[:200]}"
                for e in found
            )
        current = current.__cause__
    return f"{type(error).__name__}: {str(error)[:300]}"
