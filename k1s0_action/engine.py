"""The Docker engine, through the Docker SDK's low-level API: build, log in, push."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.utils
import requests
import urllib3.exceptions

from k1s0_action.credentials import Credentials
from k1s0_action.errors import (
    BuildError,
    InputError,
    RegistryAuthError,
    RegistryError,
    TransientError,
)
from k1s0_action.retry import Backoff, retrying

Log = Callable[[str], None]

_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_AUTH_FAILURE = re.compile(
    r"unauthorized|authentication required|denied|forbidden|incorrect username or password",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"\b5\d\d\b|429|too many requests|connection reset|connection refused|broken pipe|i/o timeout"
    r"|timeout|timed out|unexpected eof|\beof\b|temporar",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class BuildRequest:
    context: Path
    dockerfile: Path
    tag: str
    build_args: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    target: str
    platform: str
    network_mode: str = ""  # "" = the engine's default; "host" for builds that fetch (bench/)


@dataclass(frozen=True)
class BuiltImage:
    image_id: str
    reference: str


__all__ = ["BuildRequest", "BuiltImage", "Credentials", "build", "connect", "login", "push"]


def connect(env: Mapping[str, str], timeout: int = 300) -> docker.APIClient:
    """The engine the runner points at, found the way the Docker CLI finds it: DOCKER_HOST,
    DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (docker-py's kwargs_from_env), else the default
    socket."""
    where = env.get("DOCKER_HOST") or "/var/run/docker.sock"
    try:
        client = EngineClient(
            version="auto", timeout=timeout, **docker.utils.kwargs_from_env(environment=env)
        )
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise BuildError(
            f"cannot reach the Docker engine at {where}; run the job on a runner with Docker, "
            f"or fix DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH: {exc}"
        ) from None
    return client


class EngineClient(docker.APIClient):  # type: ignore[misc]
    """docker-py's client, keeping DOCKER_CERT_PATH's CA for a TLS engine.

    requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's own CA (psf/requests
    #3829), which would check the engine's certificate against the system's CAs; the Docker CLI
    checks it against ca.pem only.
    """

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(
            url, proxies, stream, verify, cert
        )
        if isinstance(self.verify, str) and verify is None:
            settings["verify"] = self.verify
        return settings


def check_build_inputs(context: Path, dockerfile: Path) -> None:
    if not context.is_dir():
        raise InputError("context", f"'{context}' is not a directory in the workspace")
    if not dockerfile.is_file():
        raise InputError("dockerfile", f"'{dockerfile}' does not exist; set 'dockerfile' or add it")


def build(client: docker.APIClient, request: BuildRequest, log: Log) -> BuiltImage:
    """Streams the build log to `log`; fails with the daemon's own error text."""
    check_build_inputs(request.context, request.dockerfile)
    dockerfile = str(request.dockerfile.resolve())
    context = str(request.context.resolve())
    if dockerfile.startswith(context + "/"):
        dockerfile = dockerfile[len(context) + 1 :]
    image_id = ""
    try:
        stream = client.build(
            path=context,
            dockerfile=dockerfile,
            tag=request.tag,
            buildargs=dict(request.build_args),
            labels=dict(request.labels),
            target=request.target or None,
            platform=request.platform,
            network_mode=request.network_mode or None,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            image_id = _follow_build(chunk, log) or image_id
        if not image_id:
            image_id = client.inspect_image(request.tag)["Id"]
    except docker.errors.APIError as exc:
        raise BuildError(f"docker build failed: {exc.explanation or exc}") from None
    except (
        requests.RequestException,
        urllib3.exceptions.HTTPError,  # the SDK reads build output from the raw response
        docker.errors.DockerException,
        OSError,
    ) as exc:
        # The engine went away mid-build (a Docker-in-Docker service died, the socket closed).
        raise BuildError(
            f"docker build failed: lost the Docker engine during the build "
            f"({type(exc).__name__}); nothing was pushed - check the runner's Docker engine "
            "and re-run the job"
        ) from None
    return BuiltImage(image_id=image_id, reference=request.tag)


def _follow_build(chunk: Mapping[str, Any], log: Log) -> str:
    if "error" in chunk or "errorDetail" in chunk:
        detail = chunk.get("errorDetail") or {}
        message = detail.get("message") or chunk.get("error") or "unknown error"
        raise BuildError(f"docker build failed: {str(message).strip()}")
    text = chunk.get("stream")
    if isinstance(text, str) and text.strip():
        for line in text.rstrip("\n").splitlines():
            log(line)
    aux = chunk.get("aux")
    if isinstance(aux, Mapping) and isinstance(aux.get("ID"), str):
        return str(aux["ID"])
    return ""


def login(client: docker.APIClient, credentials: Credentials) -> None:
    """Checks the robot account before anything is built, so bad credentials fail fast."""
    try:
        client.login(
            username=credentials.username,
            password=credentials.password,
            registry=credentials.registry,
            reauth=True,
        )
    except docker.errors.APIError as exc:
        text = str(exc.explanation or exc)
        if _AUTH_FAILURE.search(text):
            raise RegistryAuthError(
                f"registry {credentials.registry} refused the login of '{credentials.username}': "
                "check the harbor-username and harbor-password inputs (a Harbor robot account)"
            ) from None
        raise RegistryError(f"cannot log in to {credentials.registry}: {text}") from None


def push(
    client: docker.APIClient,
    repository: str,
    tag_name: str,
    credentials: Credentials,
    log: Log,
    backoff: Backoff | None = None,
) -> str:
    """Pushes repository:tag and returns the manifest digest the registry reported."""

    def attempt() -> str:
        return _push_once(client, repository, tag_name, credentials, log)

    def report(number: int, error: TransientError, wait: float) -> None:
        log(f"push failed ({error.diagnostics()}); retry {number} in {wait:.1f}s")

    chosen = backoff or Backoff()
    try:
        return retrying(attempt, chosen, on_retry=report)
    except TransientError as error:
        raise RegistryError(
            f"{error.diagnostics()}; gave up after {chosen.attempts} attempts: check that the "
            "registry is up, then re-run the job (nothing was promoted)"
        ) from None


def _push_once(
    client: docker.APIClient, repository: str, tag_name: str, credentials: Credentials, log: Log
) -> str:
    try:
        stream = client.push(
            repository,
            tag=tag_name,
            auth_config=credentials.auth_config(),
            stream=True,
            decode=True,
        )
        return _follow_push(stream, f"{repository}:{tag_name}", log)
    except docker.errors.APIError as exc:
        raise _classify_push_error(
            f"{repository}:{tag_name}", str(exc.explanation or exc)
        ) from None
    except requests.RequestException as exc:
        raise TransientError(f"push of {repository}:{tag_name} lost the engine: {exc}") from None


def _follow_push(stream: Iterable[Mapping[str, Any]], reference: str, log: Log) -> str:
    # The SDK does not raise on errors reported inside the stream; they arrive as 'error' chunks.
    digest = ""
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(detail.get("message") or chunk.get("error") or "unknown error")
            raise _classify_push_error(reference, message)
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and isinstance(aux.get("Digest"), str):
            digest = str(aux["Digest"])
        status = chunk.get("status")
        if isinstance(status, str):
            found = _DIGEST.search(status)
            if found:
                digest = digest or found.group(1)
                log(status)
    if not digest:
        raise RegistryError(f"push of {reference} ended without a digest from the registry")
    return digest


def _classify_push_error(reference: str, message: str) -> Exception:
    text = message.strip()
    if _AUTH_FAILURE.search(text):
        return RegistryAuthError(
            f"the registry refused to accept {reference}: {text}; check that the robot account "
            "in harbor-username/harbor-password may push to this project"
        )
    if _TRANSIENT.search(text):
        return TransientError(f"push of {reference} failed: {text}")
    return RegistryError(f"push of {reference} failed: {text}")
