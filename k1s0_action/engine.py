"""The Docker engine, through the Docker SDK's low-level API: build, log in, push."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

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


@dataclass(frozen=True)
class Credentials:
    registry: str
    username: str
    password: str

    def __repr__(self) -> str:  # never show the secret, whatever prints this value
        return f"Credentials(registry={self.registry!r}, username={self.username!r})"

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def connect(timeout: int = 300) -> docker.APIClient:
    try:
        client = docker.APIClient(version="auto", timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise BuildError(
            "cannot reach the Docker engine; run the job on a runner with Docker "
            f"(/var/run/docker.sock or DOCKER_HOST): {exc}"
        ) from None
    return client


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
    except docker.errors.APIError as exc:
        raise BuildError(f"docker build failed: {exc.explanation or exc}") from None
    except requests.RequestException as exc:
        raise BuildError(f"docker build failed: lost the Docker engine: {exc}") from None
    if not image_id:
        image_id = client.inspect_image(request.tag)["Id"]
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


def tag(client: docker.APIClient, image_id: str, repository: str, tag_name: str) -> None:
    client.tag(image_id, repository, tag_name, force=True)


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

    return retrying(attempt, backoff or Backoff(), on_retry=report)


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
