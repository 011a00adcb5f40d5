"""Pure parts of signing: identity from claims, regexps, cosign command lines, error classes."""

from __future__ import annotations

import base64
import json
import re
import shlex

import pytest

from k1s0_action.context import GitContext
from k1s0_action.errors import OidcError, SigningError, TransientError
from k1s0_action.oidc import (
    decode_claims,
    identity_from_claims,
    missing_token_message,
    regexp_escape,
    repository_identity_regexp,
)
from k1s0_action.signing import (
    SigstoreConfig,
    VerifyPolicy,
    classify,
    is_loopback,
    render,
    sign_argv,
    signature_annotations,
    signature_reference,
    split_digest_ref,
    verify_argv,
)

DIGEST = "sha256:" + "ab" * 32
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def claims(**values: str) -> dict[str, str]:
    base = {
        "iss": GITHUB_ISSUER,
        "repository": "k1s0-org/k1s0",
        "sub": "repo:k1s0-org/k1s0:ref:refs/heads/main",
        "job_workflow_ref": "k1s0-org/k1s0/.github/workflows/image.yml@refs/heads/main",
    }
    base.update(values)
    return base


def jwt_of(payload: dict[str, str]) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(payload)}.c2ln"


@pytest.mark.parametrize(
    ("job_workflow_ref", "identity"),
    [
        (
            "k1s0-org/k1s0/.github/workflows/image.yml@refs/heads/main",
            "https://github.com/k1s0-org/k1s0/.github/workflows/image.yml@refs/heads/main",
        ),
        # A reusable workflow: the called workflow signs, not the caller.
        (
            "k1s0-org/workflows/.github/workflows/build.yml@refs/tags/v1.2.0",
            "https://github.com/k1s0-org/workflows/.github/workflows/build.yml@refs/tags/v1.2.0",
        ),
        (
            "k1s0-org/k1s0/.github/workflows/image.yml@refs/pull/12/merge",
            "https://github.com/k1s0-org/k1s0/.github/workflows/image.yml@refs/pull/12/merge",
        ),
    ],
)
def test_identity_is_github_url_plus_job_workflow_ref(job_workflow_ref: str, identity: str) -> None:
    found = identity_from_claims(claims(job_workflow_ref=job_workflow_ref))
    assert found.certificate_identity == identity
    assert found.issuer == GITHUB_ISSUER
    assert re.fullmatch(found.identity_regexp, identity)
    assert found.identity_regexp.startswith("^") and found.identity_regexp.endswith("$")


@pytest.mark.parametrize(
    "other",
    [
        "https://github.com/k1s0-org/k1s0/.github/workflows/image.yml@refs/heads/main2",
        "https://github.com/k1s0-org/k1s0/.github/workflows/imageXyml@refs/heads/main",
        "https://github.com/evil/x?https://github.com/k1s0-org/k1s0/.github/workflows/image.yml@refs/heads/main",
        "https://github.com/k1s0-org/k1s0-fork/.github/workflows/image.yml@refs/heads/main",
    ],
)
def test_identity_regexp_rejects_lookalikes(other: str) -> None:
    regexp = identity_from_claims(claims()).identity_regexp
    assert re.search(regexp, other) is None


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("https://github.com/a/b", "https://github\\.com/a/b"),
        ("a+b(c)|d", "a\\+b\\(c\\)\\|d"),
        ("k1s0-org/k1s0@refs/heads/feat_x", "k1s0-org/k1s0@refs/heads/feat_x"),
    ],
)
def test_regexp_escape_only_escapes_special_characters(text: str, escaped: str) -> None:
    assert regexp_escape(text) == escaped
    assert re.fullmatch(escaped, text)


def test_repository_regexp_accepts_any_workflow_of_that_repository_only() -> None:
    regexp = repository_identity_regexp("k1s0-org/k1s0")
    ok = "https://github.com/k1s0-org/k1s0/.github/workflows/release.yml@refs/tags/v1.0.0"
    assert re.search(regexp, ok)
    for bad in (
        "https://github.com/k1s0-org/k1s0-other/.github/workflows/x.yml@refs/heads/main",
        "https://github.com/k1s0-org/workflows/.github/workflows/x.yml@refs/heads/main",
        "https://github.com/k1s0-org/k1s0/.github/workflows/x.yml",
    ):
        assert re.search(regexp, bad) is None


def test_decode_claims_reads_the_payload_without_verifying() -> None:
    assert decode_claims(jwt_of(claims()))["repository"] == "k1s0-org/k1s0"


@pytest.mark.parametrize(
    "token", ["not-a-jwt", "a.!!!.c", f"a.{base64.b64encode(b'[1]').decode()}.c"]
)
def test_decode_claims_rejects_garbage(token: str) -> None:
    with pytest.raises(OidcError):
        decode_claims(token)


@pytest.mark.parametrize("missing", ["iss", "job_workflow_ref", "repository"])
def test_token_without_workflow_claims_is_refused(missing: str) -> None:
    values = claims()
    del values[missing]
    with pytest.raises(OidcError, match=f"'{missing}'"):
        identity_from_claims(values)


def context(**values: str) -> GitContext:
    base = {
        "event_name": "push",
        "ref": "refs/heads/main",
        "sha": "0" * 40,
        "head_ref": "",
        "default_branch": "main",
        "repository": "k1s0-org/k1s0",
    }
    base.update(values)
    return GitContext(**base)  # type: ignore[arg-type]


def test_missing_token_messages_differ_for_permission_and_fork() -> None:
    permission = missing_token_message(context())
    fork = missing_token_message(
        context(event_name="pull_request", head_ref="x", head_repository="someone/k1s0")
    )
    same_repo_pr = missing_token_message(
        context(event_name="pull_request", head_ref="x", head_repository="k1s0-org/k1s0")
    )
    assert "permissions: { contents: read, id-token: write }" in permission
    assert same_repo_pr == permission
    assert "fork someone/k1s0" in fork and "id-token: write" not in fork
    assert "\n" not in permission + fork


@pytest.mark.parametrize(
    ("ref", "valid"),
    [
        (f"harbor.example.com/k1s0-system/orders@{DIGEST}", True),
        (f"127.0.0.1:5000/p/r@{DIGEST}", True),
        ("harbor.example.com/k1s0-system/orders:1.0.0", False),
        ("harbor.example.com/k1s0-system/orders@sha256:abc", False),
        (f"harbor.example.com/k1s0-system/orders:1.0.0@{DIGEST}", True),
    ],
)
def test_only_digest_references_are_signed(ref: str, valid: bool) -> None:
    if valid:
        assert split_digest_ref(ref)[1] == DIGEST
    else:
        with pytest.raises(SigningError, match="digest reference"):
            split_digest_ref(ref)


@pytest.mark.parametrize(
    ("repository", "loopback"),
    [
        ("127.0.0.1:5000/p/r", True),
        ("localhost:5000/p/r", True),
        ("localhost/p/r", True),
        ("[::1]:5000/p/r", True),
        ("harbor.example.com/p/r", False),
        ("127.0.0.1.nip.io/p/r", False),
        ("library/busybox", False),
    ],
)
def test_plain_http_only_for_loopback_registries(repository: str, loopback: bool) -> None:
    assert is_loopback(repository) is loopback


@pytest.mark.parametrize(
    ("signature_format", "expected"),
    [
        ("legacy", f"h.example.com/p/r:sha256-{'ab' * 32}.sig"),
        ("bundle", f"h.example.com/p/r:sha256-{'ab' * 32}"),
    ],
)
def test_signature_reference(signature_format: str, expected: str) -> None:
    assert signature_reference(f"h.example.com/p/r@{DIGEST}", signature_format) == expected


PUBLIC = SigstoreConfig("https://fulcio.sigstore.dev", "https://rekor.sigstore.dev")
PRIVATE = SigstoreConfig(
    "https://fulcio.internal",
    "https://rekor.internal",
    trusted_root="/etc/k1s0/trusted_root.json",
    tlog_upload=False,
    signature_format="bundle",
    ignore_sct=True,
)


def test_sign_argv_public_legacy() -> None:
    argv = sign_argv(
        "/opt/cosign",
        f"h.example.com/p/r@{DIGEST}",
        PUBLIC,
        "/tmp/k1s0-cosign-x/token",
        (("dev.k1s0.repository", "k1s0-org/k1s0"), ("dev.k1s0.version", "1.2.3")),
        allow_http=False,
    )
    assert argv == [
        "/opt/cosign",
        "sign",
        "--yes",
        "--new-bundle-format=false",
        "--use-signing-config=false",
        "--fulcio-url=https://fulcio.sigstore.dev",
        "--rekor-url=https://rekor.sigstore.dev",
        "--tlog-upload=true",
        "--identity-token=/tmp/k1s0-cosign-x/token",
        "--annotations=dev.k1s0.repository=k1s0-org/k1s0",
        "--annotations=dev.k1s0.version=1.2.3",
        f"h.example.com/p/r@{DIGEST}",
    ]


def test_sign_argv_private_bundle_over_http() -> None:
    argv = sign_argv("cosign", f"127.0.0.1:5000/p/r@{DIGEST}", PRIVATE, "/t", (), True)
    assert "--new-bundle-format=true" in argv
    assert "--tlog-upload=false" in argv
    assert "--trusted-root=/etc/k1s0/trusted_root.json" in argv
    assert argv[-2:] == ["--allow-http-registry", f"127.0.0.1:5000/p/r@{DIGEST}"]


def test_sign_argv_refuses_a_tag() -> None:
    with pytest.raises(SigningError):
        sign_argv("cosign", "h.example.com/p/r:latest", PUBLIC, "/t", (), False)


@pytest.mark.parametrize(
    ("config", "policy", "allow_http", "command"),
    [
        (
            PUBLIC,
            VerifyPolicy(
                GITHUB_ISSUER,
                "^https://github\\.com/o/r/\\.github/workflows/i\\.yml@refs/heads/main$",
            ),
            False,
            "cosign verify --certificate-oidc-issuer https://token.actions.githubusercontent.com "
            "--certificate-identity-regexp "
            "'^https://github\\.com/o/r/\\.github/workflows/i\\.yml@refs/heads/main$' "
            f"h.example.com/p/r@{DIGEST}",
        ),
        (
            PRIVATE,
            VerifyPolicy("https://issuer.internal", "^x$", workflow_repository="o/r"),
            True,
            "cosign verify --certificate-oidc-issuer https://issuer.internal "
            "--certificate-identity-regexp '^x$' --certificate-github-workflow-repository o/r "
            "--trusted-root /etc/k1s0/trusted_root.json --insecure-ignore-tlog=true "
            f"--insecure-ignore-sct=true --allow-http-registry h.example.com/p/r@{DIGEST}",
        ),
    ],
)
def test_verify_command_rendering(
    config: SigstoreConfig, policy: VerifyPolicy, allow_http: bool, command: str
) -> None:
    argv = verify_argv("/opt/cosign", f"h.example.com/p/r@{DIGEST}", policy, config, allow_http)
    assert render(argv) == command
    assert shlex.split(command)[1:] == argv[1:]


def test_verify_looks_entries_up_in_a_private_rekor() -> None:
    private_tlog = SigstoreConfig("https://f.internal", "https://rekor.internal", "/r.json")
    policy = VerifyPolicy("https://i", "^x$")
    argv = verify_argv("cosign", f"h/p/r@{DIGEST}", policy, private_tlog, False)
    assert argv[-3:] == ["--rekor-url", "https://rekor.internal", f"h/p/r@{DIGEST}"]
    assert "--rekor-url" not in verify_argv("cosign", f"h/p/r@{DIGEST}", policy, PUBLIC, False)


def test_annotations_skip_unknown_values() -> None:
    notes = signature_annotations(
        context(run_id="42", workflow_ref="k1s0-org/k1s0/.github/workflows/i.yml@refs/heads/main"),
        version="",
    )
    assert dict(notes) == {
        "dev.k1s0.repository": "k1s0-org/k1s0",
        "dev.k1s0.workflow": "k1s0-org/k1s0/.github/workflows/i.yml@refs/heads/main",
        "dev.k1s0.sha": "0" * 40,
        "dev.k1s0.run-id": "42",
    }


@pytest.mark.parametrize(
    ("stderr", "transient"),
    [
        ("Error: signing [x]: error signing bundle: Fulcio returned 503: ", True),
        ("Error: error signing bundle: http: read on closed response body", True),
        ("Error: GET https://h/v2/: unexpected status code 502 Bad Gateway", True),
        ('Error: Post "https://rekor/api/v1/log/entries": dial tcp: connection refused', True),
        ("Error: TOOMANYREQUESTS: 429 Too Many Requests", True),
        ("Error: Fulcio returned 401: invalid identity token", False),
        ("Error: no matching signatures: none of the expected identities matched", False),
        ("Error: GET https://h/v2/p/r/manifests/x: UNAUTHORIZED: authentication required", False),
    ],
)
def test_cosign_failures_are_classified(stderr: str, transient: bool) -> None:
    error = classify("Generating ephemeral keys...\n" + stderr + "\n", "signing x")
    assert isinstance(error, TransientError) is transient
    assert isinstance(error, SigningError) is not transient
    assert str(error).startswith("signing x: Error:")
