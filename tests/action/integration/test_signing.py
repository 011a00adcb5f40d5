"""Keyless signing end to end: real cosign, real Fulcio trusting the local GitHub-like OIDC service,
real distribution registry with a robot-like user. Transparency log off (see the report)."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import docker
import pytest
import requests

from k1s0_action import engine
from k1s0_action.cli import main
from k1s0_action.context import GitContext
from k1s0_action.errors import InputError, OidcError, SigningError
from k1s0_action.gha import Actions
from k1s0_action.inputs import signing_stage as stage
from k1s0_action.oidc import repository_identity_regexp, request_token
from k1s0_action.retry import Backoff
from k1s0_action.signing import (
    Cosign,
    RegistryAuth,
    SignatureResult,
    SigstoreConfig,
    VerifyPolicy,
    cosign_env,
    docker_config,
    sign_and_verify,
    verify,
)
from k1s0_stack.faults import FaultProxy
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.registry import Registry
from k1s0_stack.sigstore import LocalSigstore
from tests.fixtures import BUSYBOX_IMAGE, ROBOT_SECRET, ROBOT_USER

pytestmark = pytest.mark.integration

REPOSITORY = "k1s0-org/k1s0"
FAST = Backoff(attempts=4, initial=0.05, maximum=0.2)


def run_verify_command(
    command: str, registry: Registry, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """The `cosign verify` command the action hands deploy pipelines, run as they would run it."""
    argv = shlex.split(command)
    assert argv[:2] == ["cosign", "verify"]
    return subprocess.run(
        [tool("cosign"), *argv[1:]],
        env={
            "DOCKER_CONFIG": str(registry_docker_config(registry, tmp_path)),
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        check=False,
    )


def git_context(**overrides: str) -> GitContext:
    values = {
        "event_name": "push",
        "ref": "refs/heads/main",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "head_ref": "",
        "default_branch": "main",
        "repository": REPOSITORY,
        "run_id": "4242",
        "workflow_ref": f"{REPOSITORY}/.github/workflows/image.yml@refs/heads/main",
    }
    values.update(overrides)
    return GitContext(**values)  # type: ignore[arg-type]


def action_env(
    sigstore: LocalSigstore, registry: Registry, fulcio_url: str | None = None
) -> dict[str, str]:
    return {
        "INPUT_SERVICE": "orders",
        "INPUT_LAYER": "service",
        "INPUT_REGISTRY": registry.host,
        "INPUT_HARBOR-USERNAME": ROBOT_USER,
        "INPUT_HARBOR-PASSWORD": ROBOT_SECRET,
        "INPUT_FULCIO-URL": fulcio_url or sigstore.fulcio_url,
        "INPUT_REKOR-URL": sigstore.rekor_url,
        "INPUT_TRUSTED-ROOT": str(sigstore.trusted_root_path),
        "INPUT_TLOG-UPLOAD": "true" if sigstore.rekor else "false",
        "INPUT_CERTIFICATE-OIDC-ISSUER": sigstore.oidc_url,
        "COSIGN": tool("cosign"),
        "PATH": "/usr/bin:/bin",
        "HOME": tempfile.gettempdir(),
    }


def build_and_push(
    docker_api: docker.APIClient, registry: Registry, repository: str, tag: str, marker: str
) -> str:
    """A tiny distinct image (a label differs), pushed with the robot account; returns the ref."""
    with tempfile.TemporaryDirectory(prefix="k1s0-signing-ctx-") as context:
        dockerfile = Path(context) / "Dockerfile"
        dockerfile.write_text(f"FROM {BUSYBOX_IMAGE}\nLABEL dev.k1s0.test={marker}\n")
        image = f"{registry.host}/{repository}"
        engine.build(
            docker_api,
            engine.BuildRequest(
                context=Path(context),
                dockerfile=dockerfile,
                tag=f"{image}:{tag}",
                build_args=(),
                labels=(),
                target="",
                platform="linux/amd64",
            ),
            lambda _line: None,
        )
    creds = engine.Credentials(registry.host, ROBOT_USER, ROBOT_SECRET)
    digest = engine.push(docker_api, image, tag, creds, lambda _line: None)
    return f"{image}@{digest}"


@pytest.fixture
def run_env(sigstore: LocalSigstore) -> Iterator[dict[str, str]]:
    yield sigstore.issue_env(workflow_claims(repository=REPOSITORY))


class Signed(NamedTuple):
    ref: str
    result: SignatureResult
    log: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def signed(docker_api: docker.APIClient, registry: Registry, sigstore: LocalSigstore) -> Signed:
    ref = build_and_push(docker_api, registry, "k1s0-signing/orders", "build-1", "signed")
    env = action_env(sigstore, registry) | sigstore.issue_env(workflow_claims(REPOSITORY))
    stream = io.StringIO()
    result = sign_and_verify(
        ref, *stage(env), git_context(), Actions(env, stream), env=env, version="1.2.3"
    )
    return Signed(ref, result, stream.getvalue(), env)


def registry_docker_config(registry: Registry, directory: Path) -> Path:
    return docker_config(directory, RegistryAuth(registry.host, ROBOT_USER, ROBOT_SECRET))


def cosign_runner(env: Mapping[str, str], directory: Path) -> Cosign:
    return Cosign(path=tool("cosign"), env=cosign_env(env, directory), actions=Actions({}))


def test_real_cosign_verify_accepts_the_workflow_identity(
    signed: Signed, registry: Registry, sigstore: LocalSigstore, tmp_path: Path
) -> None:
    ref, result = signed.ref, signed.result
    identity = f"https://github.com/{REPOSITORY}/.github/workflows/image.yml@refs/heads/main"
    assert result.certificate_identity == identity
    assert result.certificate_oidc_issuer == sigstore.oidc_url
    assert result.signature == ref.replace("@sha256:", ":sha256-") + ".sig"
    assert (
        " --certificate-identity-regexp '^https://github\\.com/k1s0-org/k1s0/\\.github/"
        "workflows/image\\.yml@refs/heads/main$' "
    ) in result.verify_command

    # The command the action hands deploy pipelines, run as they would run it.
    done = run_verify_command(result.verify_command, registry, tmp_path)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)[0]
    assert payload["critical"]["image"]["docker-manifest-digest"] == ref.split("@")[1]
    assert payload["optional"]["Subject"] == identity
    assert payload["optional"]["dev.k1s0.repository"] == REPOSITORY
    assert payload["optional"]["dev.k1s0.version"] == "1.2.3"
    assert payload["optional"]["dev.k1s0.run-id"] == "4242"
    assert payload["optional"]["dev.k1s0.sha"] == git_context().sha


def test_signing_leaves_no_secret_behind(signed: Signed) -> None:
    assert signed.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] not in signed.log
    assert ROBOT_SECRET not in signed.log
    assert "eyJ" not in signed.log  # no JWT in the log
    assert "cosign sign --yes" in signed.log
    # The token and DOCKER_CONFIG lived in one private directory, gone once cosign is done.
    token_file = re.search(r"--identity-token=(\S+)", signed.log)
    assert token_file is not None
    assert not Path(token_file.group(1)).parent.exists()


def test_another_repositorys_identity_is_rejected(
    signed: Signed, registry: Registry, sigstore: LocalSigstore, tmp_path: Path
) -> None:
    ref = signed.ref
    config = SigstoreConfig("", "", str(sigstore.trusted_root_path), False, ignore_sct=True)
    runner = cosign_runner({}, registry_docker_config(registry, tmp_path))
    for regexp in (
        repository_identity_regexp("k1s0-org/other"),
        # Unanchored on the left, this would have matched; anchored it must not.
        "^https://github\\.com/evil/k1s0-org/k1s0/.*$",
    ):
        with pytest.raises(SigningError, match="has no signature that verifies for"):
            verify(runner, ref, VerifyPolicy(sigstore.oidc_url, regexp), config, True)
    # The right repository, but the wrong issuer.
    with pytest.raises(SigningError, match="has no signature that verifies for"):
        verify(
            runner,
            ref,
            VerifyPolicy(
                "https://token.actions.githubusercontent.com",
                repository_identity_regexp(REPOSITORY),
            ),
            config,
            True,
        )


def test_cli_verify_exit_codes(
    signed: Signed, registry: Registry, sigstore: LocalSigstore, tmp_path: Path
) -> None:
    ref = signed.ref
    env = {
        "COSIGN": tool("cosign"),
        "DOCKER_CONFIG": str(registry_docker_config(registry, tmp_path)),
        "HOME": str(tmp_path),
    }
    common = [
        "verify",
        ref,
        f"--certificate-oidc-issuer={sigstore.oidc_url}",
        f"--trusted-root={sigstore.trusted_root_path}",
        "--insecure-ignore-tlog",
        "--allow-http-registry",
    ]
    assert main([*common, f"--repository={REPOSITORY}"], env) == 0
    assert main([*common, "--repository=k1s0-org/other"], env) == 1
    assert (
        main(
            [
                *common,
                f"--repository={REPOSITORY}",
                f"--certificate-github-workflow-repository={REPOSITORY}",
            ],
            env,
        )
        == 0
    )
    assert (
        main(
            [
                *common,
                f"--repository={REPOSITORY}",
                "--certificate-github-workflow-repository=k1s0-org/other",
            ],
            env,
        )
        == 1
    )
    assert main([*common, "--certificate-identity-regexp=github.com/k1s0-org/k1s0"], env) == 2


def test_a_tag_moved_to_another_digest_does_not_verify(
    docker_api: docker.APIClient,
    registry: Registry,
    sigstore: LocalSigstore,
    tmp_path: Path,
) -> None:
    repository = "k1s0-signing/moved"
    first = build_and_push(docker_api, registry, repository, "1.0.0", "first")
    env = action_env(sigstore, registry) | sigstore.issue_env(workflow_claims(REPOSITORY))
    sign_and_verify(
        first, *stage(env), git_context(), Actions(env, io.StringIO()), env=env, backoff=FAST
    )
    # Someone pushes a different image under the same tag: the tag now names an unsigned digest.
    second = build_and_push(docker_api, registry, repository, "1.0.0", "second")
    assert second != first
    cli_env = {
        "COSIGN": tool("cosign"),
        "DOCKER_CONFIG": str(registry_docker_config(registry, tmp_path)),
        "HOME": str(tmp_path),
    }
    common = [
        "verify",
        f"--certificate-oidc-issuer={sigstore.oidc_url}",
        f"--trusted-root={sigstore.trusted_root_path}",
        "--insecure-ignore-tlog",
        "--allow-http-registry",
        f"--repository={REPOSITORY}",
    ]
    assert main([*common, first], cli_env) == 0
    assert main([*common, f"{registry.host}/{repository}:1.0.0"], cli_env) == 1


def test_bundle_format_signs_and_verifies(
    docker_api: docker.APIClient, registry: Registry, sigstore: LocalSigstore
) -> None:
    ref = build_and_push(docker_api, registry, "k1s0-signing/bundle", "build-1", "bundle")
    env = action_env(sigstore, registry) | sigstore.issue_env(workflow_claims(REPOSITORY))
    env["INPUT_SIGNATURE-FORMAT"] = "bundle"
    result = sign_and_verify(
        ref, *stage(env), git_context(), Actions(env, io.StringIO()), env=env, backoff=FAST
    )
    assert result.signature == ref.replace("@sha256:", ":sha256-")
    # No referrers API in this registry: cosign stores the bundle under the fallback tag.
    listed = requests.get(
        f"{registry.url}/v2/k1s0-signing/bundle/tags/list",
        auth=(ROBOT_USER, ROBOT_SECRET),
        timeout=10,
    ).json()["tags"]
    assert sorted(listed) == ["build-1", result.signature.rsplit(":", 1)[1]]


def test_reusable_workflow_identity_is_the_called_workflow(
    docker_api: docker.APIClient, registry: Registry, sigstore: LocalSigstore
) -> None:
    called = "k1s0-org/workflows/.github/workflows/image.yml@refs/tags/v1"
    ref = build_and_push(docker_api, registry, "k1s0-signing/reusable", "build-1", "reusable")
    env = action_env(sigstore, registry) | sigstore.issue_env(
        workflow_claims(REPOSITORY, job_workflow=called)
    )
    result = sign_and_verify(
        ref, *stage(env), git_context(), Actions(env, io.StringIO()), env=env, backoff=FAST
    )
    assert result.certificate_identity == f"https://github.com/{called}"


def test_fulcio_answering_503_twice_is_retried(
    docker_api: docker.APIClient,
    registry: Registry,
    sigstore: LocalSigstore,
    fulcio_faults: FaultProxy,
) -> None:
    ref = build_and_push(docker_api, registry, "k1s0-signing/retry", "build-1", "retry")
    env = action_env(sigstore, registry, fulcio_url=fulcio_faults.url) | sigstore.issue_env(
        workflow_claims(REPOSITORY)
    )
    fulcio_faults.fail_next(2, "/api/v2/signingCert")
    stream = io.StringIO()
    result = sign_and_verify(
        ref, *stage(env), git_context(), Actions(env, stream), env=env, backoff=FAST
    )
    assert fulcio_faults.injected() == 2
    calls = [status for _, path, status in fulcio_faults.log if path == "/api/v2/signingCert"]
    assert calls[:2] == [503, 503] and calls[2] in (200, 201)
    assert "retry 1" in stream.getvalue()
    assert result.certificate_identity.endswith("image.yml@refs/heads/main")


def test_fulcio_failing_for_good_fails_signing(
    docker_api: docker.APIClient,
    registry: Registry,
    sigstore: LocalSigstore,
    fulcio_faults: FaultProxy,
) -> None:
    ref = build_and_push(docker_api, registry, "k1s0-signing/retry", "build-2", "failing")
    env = action_env(sigstore, registry, fulcio_url=fulcio_faults.url) | sigstore.issue_env(
        workflow_claims(REPOSITORY)
    )
    fulcio_faults.fail_next(100, "/api/v2/signingCert")
    with pytest.raises(SigningError, match="gave up after 2 attempts"):
        sign_and_verify(
            ref,
            *stage(env),
            git_context(),
            Actions(env, io.StringIO()),
            env=env,
            backoff=Backoff(attempts=2, initial=0.05, maximum=0.1),
        )


def test_missing_token_variables_name_the_permission(
    registry: Registry, sigstore: LocalSigstore
) -> None:
    env = action_env(sigstore, registry)
    ref = f"{registry.host}/k1s0-signing/orders@sha256:{'a' * 64}"
    with pytest.raises(OidcError) as caught:
        sign_and_verify(ref, *stage(env), git_context(), Actions(env, io.StringIO()), env=env)
    message = caught.value.diagnostics()
    assert "id-token: write" in message and "permissions:" in message
    assert "\n" not in message


def test_fork_pull_request_gets_its_own_message(
    registry: Registry, sigstore: LocalSigstore
) -> None:
    env = action_env(sigstore, registry)
    context = git_context(
        event_name="pull_request", head_ref="feature", head_repository="someone/k1s0"
    )
    with pytest.raises(OidcError) as caught:
        request_token(env, context, Actions(env, io.StringIO()))
    message = caught.value.diagnostics()
    assert "fork someone/k1s0" in message and "id-token: write" not in message


def test_issuer_other_than_configured_signs_nothing(
    registry: Registry, sigstore: LocalSigstore, run_env: dict[str, str]
) -> None:
    env = action_env(sigstore, registry) | run_env
    env["INPUT_CERTIFICATE-OIDC-ISSUER"] = "https://token.actions.githubusercontent.com"
    ref = f"{registry.host}/k1s0-signing/orders@sha256:{'b' * 64}"
    with pytest.raises(InputError, match="certificate-oidc-issuer"):
        sign_and_verify(ref, *stage(env), git_context(), Actions(env, io.StringIO()), env=env)


def test_token_service_protocol(sigstore: LocalSigstore, run_env: dict[str, str]) -> None:
    stream = io.StringIO()
    actions = Actions(run_env, stream)
    token = request_token(run_env, git_context(), actions)
    assert token.identity.issuer == sigstore.oidc_url
    assert token.identity.repository == REPOSITORY
    assert actions.redact(f"x {token.value} y") == "x *** y"
    # A wrong request token is refused, as the runner's service does.
    bad = dict(run_env, ACTIONS_ID_TOKEN_REQUEST_TOKEN="not-the-token")
    with pytest.raises(OidcError, match="refused"):
        request_token(bad, git_context(), Actions(bad, io.StringIO()))


def test_with_rekor_the_signature_is_logged_and_verified_against_the_log(
    docker_api: docker.APIClient,
    registry: Registry,
    sigstore_tlog: LocalSigstore,
    tmp_path: Path,
) -> None:
    assert sigstore_tlog.rekor is not None
    ref = build_and_push(docker_api, registry, "k1s0-signing/tlog", "build-1", "tlog")
    env = action_env(sigstore_tlog, registry) | sigstore_tlog.issue_env(workflow_claims(REPOSITORY))
    result = sign_and_verify(
        ref, *stage(env), git_context(), Actions(env, io.StringIO()), env=env, backoff=FAST
    )
    assert "--insecure-ignore-tlog" not in result.verify_command
    log = requests.get(f"{sigstore_tlog.rekor.url}/api/v1/log", timeout=10).json()
    assert log["treeSize"] >= 1

    done = run_verify_command(result.verify_command, registry, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Existence of the claims in the transparency log was verified offline" in done.stderr


def test_with_rekor_an_unlogged_signature_does_not_verify(
    docker_api: docker.APIClient,
    registry: Registry,
    sigstore_tlog: LocalSigstore,
    tmp_path: Path,
) -> None:
    ref = build_and_push(docker_api, registry, "k1s0-signing/tlog", "build-2", "unlogged")
    env = action_env(sigstore_tlog, registry) | sigstore_tlog.issue_env(workflow_claims(REPOSITORY))
    env["INPUT_TLOG-UPLOAD"] = "false"
    sign_and_verify(
        ref, *stage(env), git_context(), Actions(env, io.StringIO()), env=env, backoff=FAST
    )
    assert sigstore_tlog.rekor is not None
    config = SigstoreConfig(
        "",
        sigstore_tlog.rekor.url,
        str(sigstore_tlog.trusted_root_path),
        tlog_upload=True,
        ignore_sct=True,
    )
    runner = cosign_runner({}, registry_docker_config(registry, tmp_path))
    policy = VerifyPolicy(sigstore_tlog.oidc_url, repository_identity_regexp(REPOSITORY))
    with pytest.raises(SigningError) as caught:
        verify(runner, ref, policy, config, True)
    assert "signature not found in transparency log" in str(caught.value)


def test_rekor_answering_503_twice_is_retried(
    docker_api: docker.APIClient, registry: Registry, sigstore_tlog: LocalSigstore
) -> None:
    # cosign retries a Rekor 5xx once itself; two in a row fail its attempt, and ours retries.
    assert sigstore_tlog.rekor is not None
    proxy = FaultProxy(sigstore_tlog.rekor.url).start()
    try:
        ref = build_and_push(docker_api, registry, "k1s0-signing/tlog", "build-3", "rekor-retry")
        env = action_env(sigstore_tlog, registry) | sigstore_tlog.issue_env(
            workflow_claims(REPOSITORY)
        )
        env["INPUT_REKOR-URL"] = proxy.url
        proxy.fail_next(2, "/api/v1/log/entries")
        stream = io.StringIO()
        sign_and_verify(
            ref, *stage(env), git_context(), Actions(env, stream), env=env, backoff=FAST
        )
        uploads = [status for method, path, status in proxy.log if method == "POST"]
        assert uploads == [503, 503, 201]
        assert "status 503" in stream.getvalue() and "retry 1" in stream.getvalue()
    finally:
        proxy.stop()


def test_with_rekor_the_bundle_format_is_logged_too(
    docker_api: docker.APIClient, registry: Registry, sigstore_tlog: LocalSigstore
) -> None:
    assert sigstore_tlog.rekor is not None
    before = requests.get(f"{sigstore_tlog.rekor.url}/api/v1/log", timeout=10).json()["treeSize"]
    ref = build_and_push(docker_api, registry, "k1s0-signing/tlog", "build-4", "bundle-tlog")
    env = action_env(sigstore_tlog, registry) | sigstore_tlog.issue_env(workflow_claims(REPOSITORY))
    env["INPUT_SIGNATURE-FORMAT"] = "bundle"
    result = sign_and_verify(
        ref, *stage(env), git_context(), Actions(env, io.StringIO()), env=env, backoff=FAST
    )
    after = requests.get(f"{sigstore_tlog.rekor.url}/api/v1/log", timeout=10).json()["treeSize"]
    assert after == before + 1
    assert "--insecure-ignore-tlog" not in result.verify_command
