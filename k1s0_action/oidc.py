"""The workflow's OIDC token, from the runner's token service, and the identity it proves.

The runner exposes the service only to jobs with `permissions: id-token: write`, as
ACTIONS_ID_TOKEN_REQUEST_URL (which already carries a query string) and
ACTIONS_ID_TOKEN_REQUEST_TOKEN. Fulcio puts `https://github.com/<job_workflow_ref>` into the
certificate's SAN; for a reusable workflow that is the called workflow, not the caller.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from k1s0_action.context import GitContext
from k1s0_action.errors import OidcError, TransientError
from k1s0_action.gha import Actions
from k1s0_action.retry import Backoff, retrying

AUDIENCE = "sigstore"
GITHUB_URL = "https://github.com/"
URL_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
TOKEN_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable's name

PERMISSIONS_BLOCK = "permissions: { contents: read, id-token: write }"


@dataclass(frozen=True)
class WorkflowIdentity:
    """Who signs: the certificate's SAN and issuer as Fulcio will write them."""

    issuer: str
    job_workflow_ref: str
    repository: str
    subject: str = ""

    @property
    def certificate_identity(self) -> str:
        return GITHUB_URL + self.job_workflow_ref

    @property
    def identity_regexp(self) -> str:
        """Anchored: a prefix or suffix match would accept another repository's workflow."""
        return f"^{regexp_escape(self.certificate_identity)}$"


_REGEXP_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def regexp_escape(text: str) -> str:
    """Escapes only what RE2/Go regexp (cosign, Kyverno) treat as special, so the pattern stays
    readable in a deploy pipeline: `https://github\\.com/org/repo/...`."""
    return _REGEXP_SPECIAL.sub(r"\\\1", text)


def repository_identity_regexp(repository: str, server_url: str = GITHUB_URL) -> str:
    """Any workflow of `repository` (owner/name), on any branch or tag."""
    base = regexp_escape(server_url.rstrip("/") + "/" + repository)
    return f"^{base}/\\.github/workflows/[^@]+@refs/(heads|tags)/.+$"


@dataclass(frozen=True)
class IdentityToken:
    value: str = field(repr=False)
    identity: WorkflowIdentity


def decode_claims(token: str) -> dict[str, Any]:
    """The JWT's payload, unverified: Fulcio verifies it; we only need to know what it says."""
    parts = token.split(".")
    if len(parts) != 3:
        raise OidcError("the OIDC token service returned something that is not a JWT")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        raise OidcError("the OIDC token's payload is not base64url JSON") from None
    if not isinstance(claims, dict):
        raise OidcError("the OIDC token's payload is not a JSON object")
    return claims


def identity_from_claims(claims: Mapping[str, Any]) -> WorkflowIdentity:
    def claim(name: str) -> str:
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise OidcError(
                f"the OIDC token has no '{name}' claim; it does not come from a GitHub Actions "
                "workflow run, so Fulcio would not issue a workflow certificate for it"
            )
        return value

    return WorkflowIdentity(
        issuer=claim("iss"),
        job_workflow_ref=claim("job_workflow_ref"),
        repository=claim("repository"),
        subject=str(claims.get("sub", "")),
    )


def missing_token_message(context: GitContext) -> str:
    if context.is_fork_pull_request:
        return (
            f"no OIDC token: this pull request comes from the fork {context.head_repository}, "
            "and GitHub never gives fork pull requests an id-token; skip signing for it "
            "(set sign: false when github.event.pull_request.head.repo.fork is true) - the image "
            "is signed when the change is merged"
        )
    return (
        f"no OIDC token: {URL_VARIABLE}/{TOKEN_VARIABLE} are not set because the job lacks the "
        f"id-token permission; add `{PERMISSIONS_BLOCK}` to the job (or the workflow), or set "
        "sign: false"
    )


def request_token(
    env: Mapping[str, str],
    context: GitContext,
    actions: Actions,
    backoff: Backoff | None = None,
    audience: str = AUDIENCE,
    timeout: float = 30.0,
) -> IdentityToken:
    """Asks the runner's token service for a token for `audience` and masks it at once."""
    url = env.get(URL_VARIABLE, "")
    bearer = env.get(TOKEN_VARIABLE, "")
    if not url or not bearer:
        raise OidcError(missing_token_message(context))
    actions.mask(bearer)

    def attempt() -> str:
        return _fetch(f"{url}&audience={quote(audience, safe='')}", bearer, timeout)

    def report(number: int, error: TransientError, wait: float) -> None:
        actions.info(f"OIDC token request failed ({error}); retry {number} in {wait:.1f}s")

    try:
        token = retrying(attempt, backoff or Backoff(attempts=4), on_retry=report)
    except TransientError as error:
        raise OidcError(
            f"the GitHub OIDC token service kept failing ({error}); re-run the job"
        ) from None
    actions.mask(token)
    return IdentityToken(value=token, identity=identity_from_claims(decode_claims(token)))


def _fetch(url: str, bearer: str, timeout: float) -> str:
    try:
        response = requests.get(
            url,
            headers={"Authorization": f"bearer {bearer}", "Accept": "application/json"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise TransientError(f"cannot reach the token service: {type(exc).__name__}") from None
    if response.status_code == 429 or response.status_code >= 500:
        error = TransientError(f"token service answered HTTP {response.status_code}")
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.isdigit():
            error.retry_after = float(retry_after)  # type: ignore[attr-defined]
        raise error
    if response.status_code in (401, 403):
        raise OidcError(
            f"the OIDC token service refused the request (HTTP {response.status_code}): "
            f"{TOKEN_VARIABLE} is stale or the job lacks `{PERMISSIONS_BLOCK}`"
        )
    if not response.ok:
        raise OidcError(f"the OIDC token service answered HTTP {response.status_code}")
    try:
        value = response.json().get("value")
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        raise OidcError("the OIDC token service answered without a token ('value')")
    return value
