"""LocalHarbor: a Harbor-compatible server on loopback with a real distribution registry behind it.

One host:port serves `/v2/` (docker login/push/pull with robot accounts, Basic auth, proxied to the
registry with the server's own credential) and Harbor's REST API under `/api/v2.0`. Test-only
controls (faults, scan behaviour) are Python methods, and for a server in another process,
admin-only endpoints under `/_k1s0/` outside Harbor's API.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import requests
from flask import Flask, Response, g, request
from werkzeug.serving import BaseWSGIServer

from k1s0_stack.harbor import contract, csrf
from k1s0_stack.harbor.api import make_api
from k1s0_stack.harbor.errors import HarborError
from k1s0_stack.harbor.faults import Fault, FaultPlan, ScanBehaviour
from k1s0_stack.harbor.records import Project
from k1s0_stack.harbor.sbom import SbomGenerator
from k1s0_stack.harbor.scanner import Scanner
from k1s0_stack.harbor.service import (
    CI_PERMISSIONS,
    Harbor,
    Principal,
    Robot,
    permission_entries,
    scannable,
)
from k1s0_stack.harbor.settings import Mimic
from k1s0_stack.harbor.store import Store, load_or_create_secrets, now
from k1s0_stack.harbor.web import API, empty, errors_response, json_response
from k1s0_stack.process import free_port, serve_wsgi, stop_http
from k1s0_stack.registry import Registry

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)
REALM = 'Basic realm="harbor"'
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "authorization",
    }
)
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


class LocalHarbor:
    def __init__(
        self,
        data_dir: Path,
        validate: bool = False,
        port: int = 0,
        trivy_db: str | None = None,
        mimic: Mimic | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.mimic = mimic or Mimic()
        self.validate = validate
        self.port = port
        self.trivy_db = trivy_db
        self.faults = FaultPlan()
        self.csrf = csrf.CsrfGuard()
        self._violations: list[str] = []
        self._violations_lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self.registry: Registry | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalHarbor:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secrets = load_or_create_secrets(self.data_dir)
        self.admin = ("admin", secrets["admin_password"])
        self._registry_auth = (secrets["registry_user"], secrets["registry_password"])
        self.registry = Registry(
            data_dir=self.data_dir / "registry",
            users={secrets["registry_user"]: secrets["registry_password"]},
        ).start()
        self.harbor = Harbor(Store(self.data_dir), secrets["admin_password"], secrets["salt"])
        self.scanner = Scanner(
            self.harbor,
            self.faults,
            lambda: self._registry().host,
            self._registry_auth,
            self.trivy_db,
        )
        self.sbom = SbomGenerator(
            self.harbor,
            lambda: self._registry().url,
            lambda: self._registry().host,
            self._registry_auth,
            self.trivy_db,
        )
        self.port = self.port or free_port()
        app = _single_encoded_slashes(create_app(self).wsgi_app)
        self._server = serve_wsgi(self.port, app)
        self.scanner.resume()
        return self

    def stop(self) -> None:
        stop_http(self._server)
        self._server = None
        if getattr(self, "scanner", None) is not None:
            self.scanner.stop()
        if getattr(self, "sbom", None) is not None:
            self.sbom.stop()
        if self.registry is not None:
            self.registry.stop()
            self.registry = None

    def __enter__(self) -> LocalHarbor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.url + API

    @property
    def registry_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _registry(self) -> Registry:
        if self.registry is None:
            raise RuntimeError("LocalHarbor is not started")
        return self.registry

    # -- Python API for tests and the demo --------------------------------------------------

    def create_project(
        self,
        name: str,
        cve_allowlist: Sequence[Mapping[str, Any]] = (),
        **metadata: str | bool,
    ) -> Project:
        """A project as Harbor stores one created through its API: `public` ("false" unless
        given) and only the metadata keys given (`auto_scan=True`, `prevent_vul`, `severity`,
        `reuse_sys_cve_allowlist`, ...; booleans become "true"/"false"). An absent
        `reuse_sys_cve_allowlist` means the system allowlist applies, as in Harbor.
        `cve_allowlist` items ({"cve_id", "expires_at"?}) become the project's own list (Harbor
        would take them from a later PUT; its create ignores them); the earliest `expires_at`
        is the list's."""
        meta = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in metadata.items()}
        meta.setdefault("public", "false")
        allowlist: dict[str, Any] = {"items": [{"cve_id": i["cve_id"]} for i in cve_allowlist]}
        expiries = [i["expires_at"] for i in cve_allowlist if i.get("expires_at") is not None]
        if expiries:
            allowlist["expires_at"] = min(int(e) for e in expiries)
        return self.harbor.create_project(name, meta, allowlist if cve_allowlist else None)

    def create_robot(
        self,
        project: str,
        name: str,
        permissions: Iterable[str] = CI_PERMISSIONS,
        duration: int = -1,
        secret: str | None = None,
    ) -> Robot:
        """A project robot; permissions are short names (service.PERMISSION_SETS) or
        "resource:action" pairs. `secret` chooses its secret (Harbor generates one otherwise)."""
        robot, secret = self.harbor.create_robot(
            name,
            "project",
            [{"kind": "project", "namespace": project, "access": permission_entries(permissions)}],
            duration,
            secret=secret,
        )
        return Robot(id=int(robot["id"]), name=robot["name"], secret=secret)

    def inject_fault(
        self,
        operation: str,
        status: int | None = 503,
        count: int = 1,
        retry_after: int | None = None,
        hang: float | None = None,
        drop: bool = False,
        username: str | None = None,
    ) -> None:
        """The next `count` requests of `operation` (operationId; "registry" for any /v2/ request,
        "registry:manifest-put" for manifest uploads) fail:
        answer `status` (after `hang` seconds, if given; status=None with hang just delays), or
        drop the connection unanswered. With `username`, only that user's requests take it."""
        self.faults.inject(Fault(operation, status, retry_after, hang, drop, username), count)

    def set_scan_behaviour(
        self, repository: str | None = None, outcome: str = "success", duration: float = 0.0
    ) -> None:
        """How the next scans of `repository` ("project/name"; None = every repository) behave."""
        self.faults.set_scan(repository, ScanBehaviour(outcome, duration))

    def set_scan_state(
        self,
        repository: str,
        reference: str,
        status: str | None,
        report: Mapping[str, Any] | None = None,
        report_id: str | None = None,
        log: str = "",
    ) -> None:
        """Puts the artifact's last scan in `status` (None: never scanned; "Pending", "Running",
        "Success" with `report`, "Error", "Stopped", "Refused": a request the scanner refused),
        as a test's starting state."""
        artifact = self.harbor.resolve(repository, reference)
        if artifact is None:
            raise KeyError(f"{repository}@{reference} is not in LocalHarbor")
        scan: dict[str, Any] | None = None
        if status is not None:
            moment = now()
            started = status not in ("Pending",)
            ended = status in ("Success", "Error", "Stopped")
            scan = {
                "report_id": report_id or str(uuid.uuid4()),
                "status": status,
                "start_time": moment if started else None,
                "end_time": moment if ended else None,
                "complete_percent": 100 if status == "Success" else 0,
                "duration": 1 if ended else 0,
                "report": dict(report) if status == "Success" and report is not None else None,
                "log": log,
            }
        self.harbor.set_scan(int(artifact["id"]), scan)

    def settle_scans(self, timeout: float = 60.0) -> None:
        """Waits until no scan is queued, pending or running."""
        deadline = time.monotonic() + timeout
        while self.harbor.unfinished_scans() and time.monotonic() < deadline:
            time.sleep(0.1)

    def clear_faults(self) -> None:
        self.faults.clear()

    def contract_violations(self) -> list[str]:
        with self._violations_lock:
            return list(self._violations)

    def record_violations(self, problems: Iterable[str]) -> None:
        with self._violations_lock:
            self._violations.extend(problems)

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Removes a manifest from the registry (blobs stay until garbage collection)."""
        registry = self._registry()
        requests.delete(
            f"{registry.url}/v2/{repository}/manifests/{digest}",
            auth=self._registry_auth,
            timeout=30,
        )


# -- the WSGI app ---------------------------------------------------------------------------------


def create_app(ctx: LocalHarbor) -> Flask:
    app = Flask("k1s0-harbor")
    app.register_blueprint(make_api(ctx))
    harbor = ctx.harbor
    # werkzeug logs each request, and as errors the TLS probes the Docker daemon sends before it
    # falls back to plain HTTP for an insecure registry; the server's own errors use `log`.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)

    @app.before_request
    def before() -> Response | None:
        g.principal = _principal(harbor)
        auth = request.authorization
        username = auth.username if auth is not None else None
        for operation in _fault_operations():
            fault = ctx.faults.take(operation, username)
            if fault is not None:
                return _apply(fault)
        if request.path.startswith("/_k1s0/") or csrf.skipped(request.path, request.cookies):
            return None
        sent = request.headers.get(csrf.TOKEN_HEADER) or request.form.get(csrf.TOKEN_FORM_FIELD)
        outcome = ctx.csrf.check(request.method, request.cookies, sent)
        g.csrf = outcome
        if outcome.refusal is not None:
            return errors_response(403, "FORBIDDEN", outcome.refusal)
        return None

    @app.after_request
    def after(response: Response) -> Response:
        # Beego's session: every answer (API, /v2/, errors) sets the session cookie.
        session = request.cookies.get(csrf.SESSION_COOKIE) or csrf.new_session_id()
        response.set_cookie(csrf.SESSION_COOKIE, session, path="/", httponly=True)
        outcome: csrf.Outcome | None = g.get("csrf")
        if outcome is not None:
            response.headers["X-Harbor-Csrf-Token"] = outcome.token
            if outcome.cookie is not None:
                response.set_cookie(
                    csrf.CSRF_COOKIE,
                    outcome.cookie,
                    max_age=csrf.MAX_AGE,
                    path="/",
                    httponly=True,
                    samesite="Strict",
                )
        if request.path.startswith(API):
            response.headers.setdefault(
                "X-Request-Id", request.headers.get("X-Request-Id", _request_id())
            )
            if ctx.validate:
                try:
                    ctx.record_violations(_validate(response))
                except Exception as exc:
                    ctx.record_violations(
                        [f"{request.method} {request.path}: validator failed: {exc!r}"]
                    )
        return response

    @app.errorhandler(HarborError)
    def harbor_error(error: HarborError) -> Response:
        return errors_response(error.status, error.code, error.message)

    @app.errorhandler(404)
    def unknown(_: Exception) -> Response:
        return errors_response(404, "NOT_FOUND", f"path {request.path} was not found")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return errors_response(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")

    @app.errorhandler(Exception)
    def internal(error: Exception) -> Response:
        log.error(
            "unhandled error on %s %s: %s", request.method, request.path, traceback.format_exc()
        )
        return errors_response(500, "UNKNOWN", "internal server error")

    @app.route("/v2/", endpoint="registry_ping", methods=["GET", "HEAD"])
    def registry_ping() -> Response:
        if g.principal is None:
            return _registry_unauthorized("unauthorized: unauthorized")
        return Response(
            "{}",
            headers={"Docker-Distribution-API-Version": "registry/2.0"},
            mimetype="application/json",
        )

    @app.route(
        "/v2/<path:rest>",
        endpoint="registry",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    )
    def registry_proxy(rest: str) -> Response:
        return _proxy(ctx, rest)

    @app.route("/_k1s0/faults", endpoint="k1s0_faults", methods=["POST", "DELETE"])
    def admin_faults() -> Response:
        harbor.require_admin(g.principal)
        if request.method == "DELETE":
            ctx.clear_faults()
            return empty()
        spec = request.get_json(force=True)
        ctx.inject_fault(**spec)
        return empty(201)

    @app.route("/_k1s0/scan-behaviour", endpoint="k1s0_scan_behaviour", methods=["POST"])
    def admin_scan_behaviour() -> Response:
        harbor.require_admin(g.principal)
        ctx.set_scan_behaviour(**request.get_json(force=True))
        return empty(201)

    @app.route("/_k1s0/mimic", endpoint="k1s0_mimic", methods=["POST"])
    def admin_mimic() -> Response:
        harbor.require_admin(g.principal)
        ctx.mimic = Mimic(**request.get_json(force=True))
        return empty(201)

    @app.route("/_k1s0/violations", endpoint="k1s0_violations", methods=["GET"])
    def admin_violations() -> Response:
        harbor.require_admin(g.principal)
        return json_response(ctx.contract_violations())

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
        answer._content = b"" if request.method == "HEAD" else response.get_data()
        answer.request = prepared
        return contract.validate_response(answer, _operation())

    return app


def _single_encoded_slashes(app: WSGIApplication) -> WSGIApplication:
    """Harbor routes on the raw path, so `tools%2Fhelper` names one repository segment as
    `tools%252Fhelper` does (captures: both work, a raw `/` is 404). The WSGI server has already
    decoded %2F to `/` in PATH_INFO; this puts the segment back, encoded once more."""

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw = str(environ.get("REQUEST_URI") or environ.get("RAW_URI") or "").split("?", 1)[0]
        if raw.startswith(API) and "%2f" in raw.lower():
            environ["PATH_INFO"] = unquote(re.sub("%2[fF]", "%252F", raw))
        return app(environ, start_response)

    return wrapped


def _operation() -> str | None:
    """The swagger operationId of the request (the view's endpoint name)."""
    return request.endpoint.rsplit(".", 1)[-1] if request.endpoint else None


def _request_id() -> str:
    import uuid

    return str(uuid.uuid4())


def _principal(harbor: Harbor) -> Principal | None:
    auth = request.authorization
    if auth is None or auth.type != "basic" or auth.username is None:
        return None
    return harbor.authenticate(auth.username, auth.password or "")


def _apply(fault: Fault) -> Response | None:
    if fault.hang:
        time.sleep(fault.hang)
    if fault.drop:
        connection = request.environ.get("werkzeug.socket")
        if isinstance(connection, socket.socket):
            connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        raise ConnectionAbortedError("connection dropped by an injected fault")
    if fault.status is None:
        return None  # a pure delay: the request is then handled normally
    if fault.status >= 500 and fault.status != 503:
        response = errors_response(fault.status, "UNKNOWN", "internal server error")
    elif fault.status == 429:
        response = errors_response(429, "TOO_MANY_REQUESTS", "too many requests")
    else:
        response = errors_response(fault.status, "SERVICE_UNAVAILABLE", "service unavailable")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


def _registry_error(status: int, code: str, message: str) -> Response:
    return json_response({"errors": [{"code": code, "message": message}]}, status)


def _registry_unauthorized(message: str) -> Response:
    response = _registry_error(401, "UNAUTHORIZED", message)
    response.headers["WWW-Authenticate"] = REALM
    response.headers["Docker-Distribution-API-Version"] = "registry/2.0"
    return response


def _fault_operations() -> list[str]:
    """The names a fault can be injected under for this request: the operationId for the API;
    for /v2/, "registry:manifest-put" (a manifest upload, which the Docker daemon does not retry
    itself) and "registry" (any request)."""
    if request.path.startswith("/_k1s0"):
        return []
    if request.path.startswith("/v2"):
        if request.method == "PUT" and "/manifests/" in request.path:
            return ["registry:manifest-put", "registry"]
        return ["registry"]
    operation = _operation()
    return [operation] if operation else []


def _proxy(ctx: LocalHarbor, rest: str) -> Response:
    """Checks the caller's project permission, then forwards to the registry and records pushes."""
    harbor = ctx.harbor
    who: Principal | None = g.principal
    if who is None:
        return _registry_unauthorized("unauthorized: unauthorized")
    if rest == "_catalog":
        if not who.admin:
            return _registry_unauthorized(
                "unauthorized to list catalog: unauthorized to list catalog"
            )
        return _forward(ctx, rest, None)
    if "/referrers/" in rest and request.method == "GET":
        return _referrers(ctx, who, *rest.rsplit("/referrers/", 1))
    name, kind, reference = _split(rest)
    if not name:
        return _registry_error(
            404, "NAME_UNKNOWN", f"repository name not known to registry: {rest}"
        )
    project = name.split("/", 1)[0]
    action = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(request.method, "push")
    if not harbor.allowed(who, project, "repository", action):
        message = f"unauthorized to access repository: {name}, action: {action}"
        return _registry_unauthorized(f"{message}: {message}")
    try:
        harbor.project(project, by_name=True)
    except HarborError:
        return _registry_error(404, "NAME_UNKNOWN", f"project {project} not found")
    if kind == "tags" and reference == "list" and request.method == "GET":
        # Harbor answers tags/list from its database, so tags added through the API are listed.
        tags = harbor.tag_names(name)
        if not tags and not harbor.artifact_count(name):
            return _registry_error(404, "NAME_UNKNOWN", f"repository name not known: {name}")
        return Response(json.dumps({"name": name, "tags": tags}), mimetype="application/json")
    if (
        kind == "manifests"
        and request.method in ("GET", "HEAD")
        and not reference.startswith("sha256:")
    ):
        # Harbor resolves tags from its database: a tag deleted through the API is gone.
        artifact = harbor.resolve(name, reference)
        if artifact is None:
            # Harbor core answers a tag it does not know from its database.
            return _registry_error(404, "NOT_FOUND", f"artifact {name}:{reference} not found")
        rest = f"{name}/manifests/{artifact['digest']}"
    if kind == "manifests" and request.method == "GET":
        artifact = harbor.resolve(name, reference)
        refusal = harbor.pull_refusal(project, artifact) if artifact else None
        if refusal:
            return _registry_error(412, "PROJECTPOLICYVIOLATION", refusal)
    upstream = _forward(
        ctx, rest, request.get_data() if request.method in ("PUT", "POST", "PATCH") else None
    )
    if kind == "manifests":
        _after_manifest(ctx, name, reference, upstream)
    return upstream


def _referrers(ctx: LocalHarbor, who: Principal, name: str, digest: str) -> Response:
    """OCI 1.1 referrers API (Harbor serves it; distribution 2.8 does not): the accessories whose
    subject is `digest`, as an image index, optionally filtered by artifactType."""
    if not ctx.harbor.allowed(who, name.split("/", 1)[0], "repository", "pull"):
        message = f"unauthorized to access repository: {name}, action: pull"
        return _registry_unauthorized(f"{message}: {message}")
    wanted = request.args.get("artifactType")
    manifests = [
        {k: v for k, v in a["descriptor"].items() if v}
        for a in ctx.harbor.accessories(name, digest)
        if a.get("descriptor") and (not wanted or a["descriptor"].get("artifactType") == wanted)
    ]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }
    response = Response(json.dumps(index), mimetype="application/vnd.oci.image.index.v1+json")
    if wanted:
        response.headers["OCI-Filters-Applied"] = "artifactType"
    return response


def _split(rest: str) -> tuple[str, str, str]:
    for kind in ("manifests", "blobs", "tags"):
        marker = f"/{kind}/"
        if marker in rest:
            name, _, tail = rest.partition(marker)
            return name, kind, tail
    return "", "", ""


def _forward(ctx: LocalHarbor, rest: str, data: bytes | None) -> Response:
    registry = ctx._registry()
    query = request.query_string.decode()
    url = f"{registry.url}/v2/{rest}" + (f"?{query}" if query else "")
    headers = {
        k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}
    }
    upstream = requests.request(
        request.method,
        url,
        headers=headers,
        data=data,
        auth=ctx._registry_auth,
        stream=True,
        allow_redirects=False,
        timeout=(10, 300),
    )
    out_headers = []
    for key, value in upstream.headers.items():
        if key.lower() in HOP_BY_HOP or key.lower() == "www-authenticate":
            continue
        if key.lower() == "location":
            out_headers.append((key, value.replace(registry.url, f"http://{request.host}")))
        else:
            out_headers.append((key, value))
    if request.method == "HEAD":
        upstream.close()
        response = Response(b"", status=upstream.status_code)
        response.headers.clear()
        response.headers.extend(out_headers)
        return response
    response = Response(_stream(upstream), status=upstream.status_code, direct_passthrough=True)
    response.headers.clear()
    response.headers.extend(out_headers)
    g.upstream_status = upstream.status_code
    return response


def _stream(upstream: requests.Response) -> Iterator[bytes]:
    try:
        yield from upstream.iter_content(65536)
    finally:
        upstream.close()


def _after_manifest(ctx: LocalHarbor, name: str, reference: str, upstream: Response) -> None:
    harbor = ctx.harbor
    if request.method == "PUT" and upstream.status_code == 201:
        body = request.get_data()
        digest = upstream.headers.get("Docker-Content-Digest", "")
        try:
            manifest: dict[str, Any] = json.loads(body)
        except ValueError:
            return
        media_type = manifest.get("mediaType") or request.mimetype
        size = len(body) + int((manifest.get("config") or {}).get("size", 0))
        size += sum(int(layer.get("size", 0)) for layer in manifest.get("layers") or [])
        artifact, created = harbor.record_push(
            name,
            reference,
            digest,
            media_type,
            manifest,
            size,
            _extra_attrs(ctx, name, manifest),
            manifest_size=len(body),
        )
        subject = (manifest.get("subject") or {}).get("digest")
        if subject:
            # Tells OCI 1.1 clients (cosign) that this registry serves the referrers API.
            upstream.headers["OCI-Subject"] = subject
        project = harbor.project(name.split("/", 1)[0], by_name=True)
        if created and project["metadata"].get("auto_scan") == "true" and scannable(artifact):
            try:
                ctx.scanner.request(artifact)
            except HarborError as exc:
                log.warning("scan on push of %s@%s: %s", name, digest, exc.message)
    elif request.method == "DELETE" and upstream.status_code == 202:
        harbor.forget_manifest(name, reference)
    elif request.method == "GET" and upstream.status_code == 200:
        harbor.mark_pulled(name, reference)


def _extra_attrs(ctx: LocalHarbor, name: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
    config = manifest.get("config") or {}
    if config.get("mediaType") not in (
        "application/vnd.docker.container.image.v1+json",
        "application/vnd.oci.image.config.v1+json",
    ):
        return {}
    registry = ctx._registry()
    try:
        blob = requests.get(
            f"{registry.url}/v2/{name}/blobs/{config['digest']}",
            auth=ctx._registry_auth,
            timeout=30,
        ).json()
    except (requests.RequestException, ValueError, KeyError):
        return {}
    if not isinstance(blob, dict):
        return {}
    return {k: blob[k] for k in ("architecture", "os", "author", "created", "config") if k in blob}
