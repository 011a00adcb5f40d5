"""Keyless signing of a pushed digest with cosign, and its verification: the one cosign edge.

Command construction is pure (`sign_argv`, `verify_argv`, `signature_reference`); `sign_and_verify`
runs them. Secrets never reach an argv: the identity token and the registry credentials are files
in a private temporary directory that is removed when cosign is done.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from k1s0_action.context import GitContext
from k1s0_action.credentials import Credentials
from k1s0_action.environment import allowlisted
from k1s0_action.errors import InputError, SigningError, TransientError
from k1s0_action.gha import Actions
from k1s0_action.oidc import IdentityToken, WorkflowIdentity, request_token
from k1s0_action.retry import Backoff, retrying

DIGEST_REF = re.compile(r"^(?P<repository>[^@\s]+)@(?P<digest>sha256:[0-9a-f]{64})$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
ANNOTATION_PREFIX = "dev.k1s0."
PUBLIC_REKOR_URL = "https://rekor.sigstore.dev"
# sigstore-go (v1.2.x, inside cosign 3.1) retries a Fulcio 5xx once itself and then reports the
# second one as "read on closed response body" instead of the status.
_TRANSIENT = re.compile(
    r"(Fulcio|Rekor) returned (5\d\d|429)|read on closed response body|\b50[234]\b|\b429\b"
    r"|Service Unavailable|Bad Gateway|Gateway Timeout|Too Many Requests|connection refused"
    r"|connection reset|i/o timeout|TLS handshake timeout|unexpected EOF|temporar",
    re.IGNORECASE,
)
_NO_MATCH = re.compile(r"no matching signatures|none of the expected identities", re.IGNORECASE)


@dataclass(frozen=True)
class SigstoreConfig:
    """Where cosign gets its certificate and writes its log entry, and what it trusts."""

    fulcio_url: str
    rekor_url: str
    trusted_root: str = ""
    tlog_upload: bool = True
    signature_format: str = "legacy"
    # A private instance without a CT log issues certificates without an embedded SCT.
    ignore_sct: bool = False

    @classmethod
    def create(
        cls,
        fulcio_url: str,
        rekor_url: str,
        trusted_root: str = "",
        tlog_upload: bool = True,
        signature_format: str = "legacy",
    ) -> SigstoreConfig:
        """The configuration, with `ignore_sct` read from the trusted root's CT logs."""
        return cls(
            fulcio_url=fulcio_url,
            rekor_url=rekor_url,
            trusted_root=trusted_root,
            tlog_upload=tlog_upload,
            signature_format=signature_format,
            ignore_sct=bool(trusted_root) and not trusted_root_has_ctlogs(trusted_root),
        )


@dataclass(frozen=True)
class SigningSettings:
    """The signing stage's inputs: whether to sign, where, and the issuer deploys will trust."""

    enabled: bool
    sigstore: SigstoreConfig
    certificate_oidc_issuer: str
    token_timeout: float = 30.0  # seconds per request to the runner's OIDC token service


@dataclass(frozen=True)
class VerifyPolicy:
    """What a signature must say to be accepted: issuer plus an anchored identity regexp."""

    issuer: str
    identity_regexp: str
    workflow_repository: str = ""

    @classmethod
    def for_identity(cls, identity: WorkflowIdentity) -> VerifyPolicy:
        return cls(issuer=identity.issuer, identity_regexp=identity.identity_regexp)


RegistryAuth = Credentials  # the registry login cosign uses is the robot account itself


@dataclass(frozen=True)
class SignatureResult:
    image_ref: str
    signature: str
    certificate_identity: str
    certificate_oidc_issuer: str
    verify_command: str

    def outputs(self) -> dict[str, str]:
        return {
            "signature": self.signature,
            "certificate-identity": self.certificate_identity,
            "certificate-oidc-issuer": self.certificate_oidc_issuer,
            "verify-command": self.verify_command,
        }

    def summary_lines(self) -> list[str]:
        return [
            f"| Signature | `{self.signature}` |",
            f"| Certificate identity | `{self.certificate_identity}` |",
            f"| Certificate issuer | `{self.certificate_oidc_issuer}` |",
            "",
            "Deploy pipelines verify with:",
            "",
            "```sh",
            self.verify_command,
            "```",
        ]


# -- pure --------------------------------------------------------------------------------------


def split_digest_ref(image_ref: str) -> tuple[str, str]:
    found = DIGEST_REF.match(image_ref)
    if not found:
        raise SigningError(
            f"refusing to sign '{image_ref}': only a digest reference (image@sha256:...) names "
            "exactly the image that passed the gate"
        )
    return found.group("repository"), found.group("digest")


def registry_host(repository: str) -> str:
    first, _, rest = repository.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else ""


def is_loopback(repository: str) -> bool:
    host = registry_host(repository)
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in LOOPBACK_HOSTS


def signature_reference(image_ref: str, signature_format: str) -> str:
    """Where cosign stores the signature: the `sha256-<hex>.sig` tag (legacy) or, for a bundle,
    the referrers-API fallback tag `sha256-<hex>` when the registry has no referrers API."""
    repository, digest = split_digest_ref(image_ref)
    tag = digest.replace(":", "-")
    return f"{repository}:{tag}.sig" if signature_format == "legacy" else f"{repository}:{tag}"


def signature_annotations(context: GitContext, version: str) -> tuple[tuple[str, str], ...]:
    values = (
        ("repository", context.repository),
        ("workflow", context.workflow_ref),
        ("sha", context.sha),
        ("run-id", context.run_id),
        ("version", version),
    )
    return tuple((ANNOTATION_PREFIX + key, value) for key, value in values if value)


def _format_flags(config: SigstoreConfig) -> list[str]:
    if config.signature_format == "legacy":
        return ["--new-bundle-format=false", "--use-signing-config=false"]
    return ["--new-bundle-format=true", "--use-signing-config=false"]


def sign_argv(
    cosign: str,
    image_ref: str,
    config: SigstoreConfig,
    token_path: str,
    notes: Sequence[tuple[str, str]],
    allow_http: bool,
) -> list[str]:
    split_digest_ref(image_ref)
    argv = [cosign, "sign", "--yes", *_format_flags(config)]
    argv += [f"--fulcio-url={config.fulcio_url}", f"--rekor-url={config.rekor_url}"]
    argv.append(f"--tlog-upload={'true' if config.tlog_upload else 'false'}")
    if config.trusted_root:
        argv.append(f"--trusted-root={config.trusted_root}")
    argv.append(f"--identity-token={token_path}")
    argv += [f"--annotations={key}={value}" for key, value in notes]
    if allow_http:
        argv.append("--allow-http-registry")
    return [*argv, image_ref]


def verify_argv(
    cosign: str,
    image_ref: str,
    policy: VerifyPolicy,
    config: SigstoreConfig,
    allow_http: bool,
) -> list[str]:
    # Flag and value apart, so the rendered command quotes only the regexp.
    argv = [
        cosign,
        "verify",
        "--certificate-oidc-issuer",
        policy.issuer,
        "--certificate-identity-regexp",
        policy.identity_regexp,
    ]
    if policy.workflow_repository:
        argv += ["--certificate-github-workflow-repository", policy.workflow_repository]
    if config.trusted_root:
        argv += ["--trusted-root", config.trusted_root]
    if not config.tlog_upload:
        argv.append("--insecure-ignore-tlog=true")
    elif config.rekor_url and config.rekor_url != PUBLIC_REKOR_URL:
        # A signature without an embedded entry is looked up online: in this log, not the public.
        argv += ["--rekor-url", config.rekor_url]
    if config.ignore_sct:
        argv.append("--insecure-ignore-sct=true")
    if allow_http:
        argv.append("--allow-http-registry")
    return [*argv, image_ref]


def render(argv: Sequence[str]) -> str:
    return shlex.join(["cosign", *argv[1:]])


def classify(stderr: str, what: str) -> SigningError | TransientError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith(("error", "main.go"))]
    detail = (errors or lines or ["cosign failed without a message"])[-1]
    if _TRANSIENT.search(stderr):
        return TransientError(f"{what}: {detail}")
    return SigningError(f"{what}: {detail}")


def trusted_root_has_ctlogs(path: str) -> bool:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("trusted-root", f"'{path}' does not exist") from None
    except (OSError, ValueError) as exc:
        raise InputError("trusted-root", f"'{path}' is not a trusted_root.json: {exc}") from None
    return bool(data.get("ctlogs")) if isinstance(data, dict) else False


# -- running cosign -----------------------------------------------------------------------------


def cosign_path(env: Mapping[str, str]) -> str:
    given = env.get("COSIGN", "")
    found = given or shutil.which("cosign", path=env.get("PATH"))
    if not found:
        raise SigningError("cosign is not installed: put it on PATH or set COSIGN to its path")
    return found


@contextmanager
def private_dir() -> Iterator[Path]:
    """A 0700 directory for the token and registry credentials, removed whatever happens."""
    path = Path(tempfile.mkdtemp(prefix="k1s0-cosign-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_secret(path: Path, text: str) -> Path:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def docker_config(directory: Path, auth: RegistryAuth | None) -> Path:
    directory.mkdir(mode=0o700, exist_ok=True)
    auths = {}
    if auth:
        auths[auth.registry] = {"auth": auth.basic()}
    write_secret(directory / "config.json", json.dumps({"auths": auths}))
    return directory


def cosign_env(env: Mapping[str, str], config_dir: Path) -> dict[str, str]:
    """An allowlist of `env` (k1s0_action.environment): cosign must use the token we hand it,
    never fetch its own, and never see INPUT_* (the robot's secret) or the job's tokens."""
    clean = allowlisted(env)
    clean["DOCKER_CONFIG"] = str(config_dir)
    return clean


@dataclass
class Cosign:
    """Runs cosign with a private DOCKER_CONFIG; transient failures are retried."""

    path: str
    env: Mapping[str, str]
    actions: Actions
    backoff: Backoff = field(default_factory=Backoff)
    timeout: float = 300.0

    def run(self, argv: Sequence[str], what: str) -> str:
        def attempt() -> str:
            return self._once(argv, what)

        def report(number: int, error: TransientError, wait: float) -> None:
            self.actions.info(f"{error.diagnostics()}; retry {number} in {wait:.1f}s")

        try:
            return retrying(attempt, self.backoff, on_retry=report)
        except TransientError as error:
            raise SigningError(
                f"{error.diagnostics()} (gave up after {self.backoff.attempts} attempts); "
                "nothing was promoted - re-run the job"
            ) from None

    def _once(self, argv: Sequence[str], what: str) -> str:
        try:
            done = subprocess.run(
                list(argv),
                env=dict(self.env),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TransientError(f"{what}: cosign timed out after {self.timeout:.0f}s") from None
        stderr = self.actions.redact(done.stderr)
        if done.returncode != 0:
            raise classify(stderr, what)
        return self.actions.redact(done.stdout)


@contextmanager
def cosign_session(
    env: Mapping[str, str],
    auth: Credentials | None,
    actions: Actions,
    backoff: Backoff | None = None,
) -> Iterator[tuple[Cosign, Path]]:
    """cosign with the robot's login in a private DOCKER_CONFIG, and the private directory for
    the token and predicates; both are removed when the block ends."""
    with private_dir() as secrets:
        yield (
            Cosign(
                path=cosign_path(env),
                env=cosign_env(env, docker_config(secrets / "docker", auth)),
                actions=actions,
                backoff=backoff or Backoff(),
            ),
            secrets,
        )


def verify_and_say(
    cosign: Cosign,
    image_ref: str,
    policy: VerifyPolicy,
    config: SigstoreConfig,
    allow_http: bool,
    actions: Actions,
) -> str:
    """Verifies the signature in a log group; returns the command deploy pipelines can run."""
    with actions.group(f"Verify {image_ref}"):
        verify(cosign, image_ref, policy, config, allow_http)
        command = render(verify_argv("cosign", image_ref, policy, config, allow_http))
        actions.info(f"verified: {command}")
    return command


def verify(
    cosign: Cosign,
    image_ref: str,
    policy: VerifyPolicy,
    config: SigstoreConfig,
    allow_http: bool,
) -> str:
    """Runs `cosign verify`; a signature that does not match the policy is a SigningError."""
    argv = verify_argv(cosign.path, image_ref, policy, config, allow_http)
    try:
        return cosign.run(argv, f"verifying {image_ref}")
    except SigningError as error:
        if _NO_MATCH.search(str(error)):
            raise SigningError(
                f"{image_ref} has no signature that verifies for {policy.identity_regexp} "
                f"issued by {policy.issuer}: {error}"
            ) from None
        raise


def _token(
    settings: SigningSettings, env: Mapping[str, str], context: GitContext, actions: Actions
) -> IdentityToken:
    token = request_token(env, context, actions, timeout=settings.token_timeout)
    if token.identity.issuer != settings.certificate_oidc_issuer:
        # Deploy pipelines check the configured issuer; a certificate from another would never
        # verify there, so nothing is signed at all.
        raise InputError(
            "certificate-oidc-issuer",
            f"is {settings.certificate_oidc_issuer}, but this job's OIDC token comes from "
            f"{token.identity.issuer}; set it to the issuer deploy pipelines trust",
        )
    return token


def sign_and_verify(
    image_ref: str,
    settings: SigningSettings,
    auth: Credentials | None,
    context: GitContext,
    actions: Actions,
    env: Mapping[str, str],
    version: str = "",
    backoff: Backoff | None = None,
) -> SignatureResult:
    """Signs the digest keylessly, then proves the signature verifies for this workflow.

    `env` is the runner's environment as the caller chose to pass it: the OIDC request variables
    are read from it, and cosign gets only its allowlisted part.
    """
    split_digest_ref(image_ref)
    config = settings.sigstore
    token = _token(settings, env, context, actions)
    identity = token.identity
    policy = VerifyPolicy.for_identity(identity)
    repository, _ = split_digest_ref(image_ref)
    allow_http = is_loopback(repository)
    with cosign_session(env, auth, actions, backoff) as (cosign, secrets):
        token_file = write_secret(secrets / "token", token.value)
        argv = sign_argv(
            cosign.path,
            image_ref,
            config,
            str(token_file),
            signature_annotations(context, version),
            allow_http,
        )
        with actions.group(f"Sign {image_ref}"):
            actions.info(render(argv))
            cosign.run(argv, f"signing {image_ref}")
            actions.info(f"signed as {identity.certificate_identity} ({identity.issuer})")
        command = verify_and_say(cosign, image_ref, policy, config, allow_http, actions)
    return _result(image_ref, config, identity, command)


def verify_released(
    image_ref: str,
    settings: SigningSettings,
    auth: Credentials | None,
    context: GitContext,
    actions: Actions,
    env: Mapping[str, str],
    backoff: Backoff | None = None,
) -> SignatureResult:
    """Re-checks that an already released digest verifies for this workflow (a re-run)."""
    config = settings.sigstore
    identity = _token(settings, env, context, actions).identity
    policy = VerifyPolicy.for_identity(identity)
    repository, _ = split_digest_ref(image_ref)
    allow_http = is_loopback(repository)
    with cosign_session(env, auth, actions, backoff) as (cosign, _):
        command = verify_and_say(cosign, image_ref, policy, config, allow_http, actions)
    return _result(image_ref, config, identity, command)


def _result(
    image_ref: str, config: SigstoreConfig, identity: WorkflowIdentity, command: str
) -> SignatureResult:
    return SignatureResult(
        image_ref=image_ref,
        signature=signature_reference(image_ref, config.signature_format),
        certificate_identity=identity.certificate_identity,
        certificate_oidc_issuer=identity.issuer,
        verify_command=command,
    )
