"""A stand-in for GitHub Actions' OIDC token service (token.actions.githubusercontent.com).

It speaks the runner's protocol: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=...` with
`Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` answers `{"count": 1, "value": "<jwt>"}`;
the JWT is RS256 with GitHub's workflow claims, and OpenID discovery plus JWKS let Fulcio verify it
exactly as it verifies the real issuer.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from k1s0_stack.process import free_port

TOKEN_PATH = "/_apis/distributedtask/hubs/Actions/plans/plan/jobs/job/idtoken"  # noqa: S105 - a URL path
TOKEN_LIFETIME = 300  # GitHub's tokens live for minutes; Fulcio only needs them once.

# The claims GitHub lists in claims_supported (docs.github.com, "OpenID Connect reference").
CLAIMS_SUPPORTED = (
    "sub",
    "aud",
    "exp",
    "iat",
    "iss",
    "jti",
    "nbf",
    "ref",
    "sha",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "enterprise",
    "enterprise_id",
    "run_id",
    "run_number",
    "run_attempt",
    "actor",
    "actor_id",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "head_ref",
    "base_ref",
    "event_name",
    "ref_type",
    "ref_protected",
    "environment",
    "environment_node_id",
    "job_workflow_ref",
    "job_workflow_sha",
    "repository_visibility",
    "runner_environment",
    "check_run_id",
)


def workflow_claims(
    repository: str = "k1s0-org/k1s0",
    workflow_path: str = ".github/workflows/image.yml",
    ref: str = "refs/heads/main",
    sha: str = "0123456789abcdef0123456789abcdef01234567",
    event_name: str = "push",
    run_id: str = "4242",
    job_workflow: str | None = None,
) -> dict[str, str]:
    """Claims as GitHub issues them for a job; `job_workflow` names a called reusable workflow
    (`owner/repo/.github/workflows/x.yml@ref`), which then becomes the certificate identity."""
    owner = repository.split("/", 1)[0]
    workflow_ref = f"{repository}/{workflow_path}@{ref}"
    return {
        "sub": f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_id": "100001",
        "repository_owner": owner,
        "repository_owner_id": "200002",
        "repository_visibility": "private",
        "ref": ref,
        "ref_type": "branch" if ref.startswith("refs/heads/") else "tag",
        "sha": sha,
        "workflow": "image",
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": job_workflow or workflow_ref,
        "job_workflow_sha": sha,
        "event_name": event_name,
        "run_id": run_id,
        "run_number": "7",
        "run_attempt": "1",
        "actor": "octocat",
        "actor_id": "300003",
        "runner_environment": "github-hosted",
    }


@dataclass
class OidcService:
    """The token service on loopback; `issue_env(claims)` gives a job's two ACTIONS_ID_TOKEN_*."""

    port: int = 0
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    # request token -> the claims that job's tokens carry
    jobs: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OidcService:
        self.port = self.port or free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def issue_env(self, claims: Mapping[str, str]) -> dict[str, str]:
        request_token = secrets.token_urlsafe(24)
        self.jobs[request_token] = dict(claims)
        return {
            # The runner's URL already has a query string; clients append `&audience=`.
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.issuer}{TOKEN_PATH}?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token,
        }

    def mint(self, claims: Mapping[str, str], audience: str) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            **claims,
            "jti": str(uuid.uuid4()),
            "aud": audience,
            "iss": self.issuer,
            "nbf": now - 5,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
        }
        return jwt.encode(
            payload, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"}
        )

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks",
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": list(CLAIMS_SUPPORTED),
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}


def _handler(service: OidcService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _json(self, status: int, body: Mapping[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            service.requests.append(url.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(200, service.discovery())
            elif url.path == "/.well-known/jwks":
                self._json(200, service.jwks())
            elif url.path == TOKEN_PATH:
                self._token(parse_qs(url.query))
            else:
                self._json(404, {"message": "Not Found"})

        def _token(self, query: Mapping[str, list[str]]) -> None:
            scheme, _, request_token = self.headers.get("Authorization", "").partition(" ")
            claims = service.jobs.get(request_token) if scheme.lower() == "bearer" else None
            if claims is None:
                self._json(401, {"message": "Unauthorized"})
                return
            # Without an explicit audience GitHub uses the repository owner's URL.
            owner = claims.get("repository_owner", "")
            audience = query.get("audience", [f"https://github.com/{owner}"])[0]
            self._json(200, {"count": 1, "value": service.mint(claims, audience)})

    return Handler
