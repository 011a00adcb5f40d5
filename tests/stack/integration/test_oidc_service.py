"""The local OIDC token service against GitHub's published protocol (docs.github.com, "OpenID
Connect reference", and the runner's token request): discovery, JWKS, the request, the token."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
import requests

from k1s0_stack.oidc import OidcService, workflow_claims

# The workflow claims the issue and Fulcio's github-workflow principal require.
WORKFLOW_CLAIMS = (
    "sub",
    "repository",
    "ref",
    "sha",
    "workflow_ref",
    "job_workflow_ref",
    "job_workflow_sha",
    "event_name",
    "run_id",
    "run_attempt",
    "repository_owner",
    "repository_id",
    "repository_owner_id",
    "repository_visibility",
    "runner_environment",
    "workflow",
    "workflow_sha",
)


@pytest.fixture(scope="module")
def service() -> Iterator[OidcService]:
    started = OidcService().start()
    yield started
    started.stop()


def request_token(env: dict[str, str], audience: str | None) -> requests.Response:
    url = env["ACTIONS_ID_TOKEN_REQUEST_URL"]
    if audience is not None:
        url += f"&audience={audience}"
    return requests.get(
        url,
        headers={"Authorization": f"bearer {env['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
        timeout=10,
    )


def test_discovery_document(service: OidcService) -> None:
    doc = requests.get(f"{service.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert doc["issuer"] == service.issuer
    assert doc["jwks_uri"] == f"{service.issuer}/.well-known/jwks"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["response_types_supported"] == ["id_token"]
    assert set(WORKFLOW_CLAIMS) <= set(doc["claims_supported"])


def test_token_request_protocol_and_claims(service: OidcService) -> None:
    env = service.issue_env(workflow_claims("k1s0-org/k1s0"))
    assert "?" in env["ACTIONS_ID_TOKEN_REQUEST_URL"]  # clients append &audience=
    answer = request_token(env, "sigstore")
    assert answer.status_code == 200
    token = answer.json()["value"]

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"]
    jwks = jwt.PyJWKClient(f"{service.issuer}/.well-known/jwks")
    key = jwks.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="sigstore", issuer=service.issuer
    )
    for name in WORKFLOW_CLAIMS:
        assert isinstance(claims[name], str) and claims[name], name
    assert claims["sub"] == "repo:k1s0-org/k1s0:ref:refs/heads/main"
    assert claims["job_workflow_ref"] == claims["workflow_ref"]
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    assert claims["jti"]


def test_default_audience_is_the_owner_url(service: OidcService) -> None:
    env = service.issue_env(workflow_claims("k1s0-org/k1s0"))
    token = request_token(env, None).json()["value"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == (
        "https://github.com/k1s0-org"
    )


def test_request_token_is_checked(service: OidcService) -> None:
    env = service.issue_env(workflow_claims())
    env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "forged"
    assert request_token(env, "sigstore").status_code == 401
