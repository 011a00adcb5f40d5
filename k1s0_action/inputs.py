"""The action's inputs, checked all at once before anything is built, into per-stage settings.

`read_inputs` returns one `Settings`: what the plan, the build, Harbor access, the scan gate and
signing each need, in their own types, so no stage sees inputs it does not use. Every check that
can fail fails here, naming the input, so nothing is built or pushed after a bad input.

Defaults live here and in action.yml; a unit test keeps the two equal. GitHub passes an input
named `harbor-username` as INPUT_HARBOR-USERNAME (hyphens kept), which is how it is read.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from k1s0_action.credentials import Credentials
from k1s0_action.environment import allowlisted
from k1s0_action.errors import InputError, shown
from k1s0_action.gate import GateSettings
from k1s0_action.naming import check_registry, parse_layer
from k1s0_action.oidc import TOKEN_VARIABLE, URL_VARIABLE
from k1s0_action.plan import PlanRequest
from k1s0_action.policy import SEVERITIES
from k1s0_action.signing import SigningSettings, SigstoreConfig

DEFAULTS: dict[str, str] = {
    "service": "",
    "layer": "",
    "version": "",
    "domain": "",
    "registry": "harbor.internal.example.com",
    "project-prefix": "k1s0",
    "context": ".",
    "dockerfile": "",
    "build-args": "",
    "target": "",
    "platform": "linux/amd64",
    # The build backend, the registry cache, the image's platforms (k1s0_action.builder uses them).
    "builder": "auto",
    "cache": "harbor",
    "platforms": "",
    "push": "true",
    "harbor-username": "",
    "harbor-password": "",
    "harbor-url": "",
    "scan-timeout": "600",
    "block-severities": "critical,high",
    "ignore-cves": "",
    "on-scan-error": "fail",
    "keep-blocked": "false",
    "sign": "true",
    "signature-format": "legacy",
    "fulcio-url": "https://fulcio.sigstore.dev",
    "rekor-url": "https://rekor.sigstore.dev",
    "trusted-root": "",
    "tlog-upload": "true",
    "certificate-oidc-issuer": "https://token.actions.githubusercontent.com",
    "attest": "true",
    # `command: rescan` (k1s0_action.cli rescan) only:
    "command": "run",
    "layers": "system,business,service,infra",
    "max-age": "24h",
    "open-issues": "false",
    # The image rules (k1s0_action.conformance reads them):
    "conformance": "enforce",
    "port": "8080",
    "approved-bases": "",
}

PLATFORMS = ("linux/amd64", "linux/arm64")
BUILDERS = ("auto", "buildkit", "classic")
CACHES = ("harbor", "none")
MAX_SCAN_TIMEOUT = 6 * 3600.0
BUILD_ARG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CREDENTIALS_IN_URL = "credentials go in harbor-username/harbor-password, not in a URL"


@dataclass(frozen=True)
class BuildSettings:
    """What the Docker engine needs besides the plan's tag and labels."""

    context: Path
    dockerfile: Path
    build_args: tuple[tuple[str, str], ...]
    target: str
    platform: str
    push: bool


@dataclass(frozen=True)
class BackendSettings:
    """Which build backend builds, with which cache, for which platforms (k1s0_action.builder)."""

    builder: str  # auto | buildkit | classic
    cache: str  # harbor | none
    platforms: tuple[str, ...]

    @property
    def multi_platform(self) -> bool:
        return len(self.platforms) > 1


@dataclass(frozen=True)
class HarborAccess:
    """One robot account for the registry (login, push, cosign) and Harbor's API."""

    api_url: str
    credentials: Credentials
    # (connect, read) seconds per Harbor API request; each request is retried with backoff.
    timeout: tuple[float, float] = (5.0, 30.0)


@dataclass(frozen=True)
class Settings:
    """Every input, checked, as the settings of each stage of the run."""

    plan: PlanRequest
    build: BuildSettings
    harbor: HarborAccess
    gate: GateSettings
    keep_blocked: bool
    signing: SigningSettings
    # What child processes and the engine connection may see of the runner's environment, plus
    # the OIDC request variables (only k1s0_action.oidc reads those).
    environment: Mapping[str, str] = field(repr=False, default_factory=dict)
    warnings: tuple[tuple[str, str], ...] = ()  # (input, message)
    attest: bool = True  # with signing: the gate's scan and Harbor's SBOM as attestations
    backend: BackendSettings = BackendSettings("auto", "harbor", ("linux/amd64",))


def raw_input(env: Mapping[str, str], name: str) -> str:
    """An input's value as the runner passes it, falling back to the default."""
    for key in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        value = env.get(key)
        if value is not None and value.strip():
            return value.strip()
    return DEFAULTS[name]


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise InputError(name, f"{shown(value)} is not a boolean; use true or false")


def parse_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InputError(name, f"{shown(value)} is not allowed; use one of {' | '.join(allowed)}")
    return value


def parse_build_args(value: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(value.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, arg = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError("build-args", f"line {number} {shown(text)} is not KEY=VALUE")
        if not BUILD_ARG_KEY.match(key):
            raise InputError(
                "build-args",
                f"line {number}: {shown(key)} is not a build argument name; use letters, digits "
                "and '_', not starting with a digit",
            )
        if key in seen:
            raise InputError(
                "build-args", f"line {number}: {shown(key)} is given twice; keep one value"
            )
        seen.add(key)
        pairs.append((key, arg))
    return tuple(pairs)


def parse_list(value: str) -> tuple[str, ...]:
    items = value.replace("\n", ",").split(",")
    return tuple(item.strip() for item in items if item.strip())


def parse_seconds(name: str, value: str, maximum: float = MAX_SCAN_TIMEOUT) -> float:
    text = value.strip().lower()
    scale = 1.0
    if text.endswith("m"):
        text, scale = text[:-1], 60.0
    elif text.endswith("s"):
        text = text[:-1]
    try:
        seconds = float(text) * scale
    except ValueError:
        seconds = math.nan
    # float() takes 'nan' and 'inf': a NaN deadline never passes and polls without sleeping.
    if not math.isfinite(seconds):
        raise InputError(
            name, f"{shown(value)} is not a duration; use seconds (600) or minutes (10m)"
        )
    if seconds <= 0:
        raise InputError(name, "must be positive")
    if seconds > maximum:
        raise InputError(name, f"{shown(value)} is more than {maximum / 3600:g} hours")
    return seconds


def parse_platforms(value: str, fallback: str) -> tuple[str, ...]:
    platforms: list[str] = []
    for item in parse_list(value) or (fallback,):
        platform = parse_choice("platforms", item.lower(), PLATFORMS)
        if platform not in platforms:
            platforms.append(platform)
    return tuple(platforms)


def read_backend(env: Mapping[str, str]) -> BackendSettings:
    """`platforms` falls back to the single `platform` input (A1: linux/amd64)."""
    settings = BackendSettings(
        builder=parse_choice("builder", raw_input(env, "builder").lower(), BUILDERS),
        cache=parse_choice("cache", raw_input(env, "cache").lower(), CACHES),
        platforms=parse_platforms(
            raw_input(env, "platforms"),
            parse_choice("platform", raw_input(env, "platform"), PLATFORMS),
        ),
    )
    if settings.multi_platform and settings.builder == "classic":
        raise InputError(
            "platforms",
            f"'{','.join(settings.platforms)}' needs BuildKit for an image index; "
            "set builder: buildkit (or auto), or give one platform",
        )
    return settings


def resolve_dockerfile(context: Path, dockerfile: str) -> Path:
    if not dockerfile:
        return context / "Dockerfile"
    path = Path(dockerfile)
    return path if path.is_absolute() else Path(os.path.normpath(path))


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK


def check_url(
    name: str, value: str, https_only: bool = False
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """An http(s) URL with a host and a valid port and without credentials.

    Returns the URL and the warnings it earns. `https_only` still allows http for a loopback
    host (a local test stack), never for a remote one.
    """
    # Anywhere, not only in the authority: a password holding '/' moves the '@' into what a
    # parser reads as the path. No base URL of Harbor, Fulcio or Rekor has an '@'.
    if "@" in value:
        # Never echo it: the part before '@' is a password.
        raise InputError(name, f"carries user:password@; {CREDENTIALS_IN_URL}")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InputError(
            name, f"{shown(value)} has a port out of range; a port is 1 to 65535"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            name,
            f"{shown(value)} is not an http(s) URL; give it with its scheme, "
            "e.g. https://harbor.example.com",
        )
    if port == 0:
        raise InputError(name, f"{shown(value)} has port 0; a port is 1 to 65535")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        if https_only:
            raise InputError(name, f"{shown(value)} must be an https URL")
        return value, ((name, f"{value} is plain http: secrets sent to it travel in clear text"),)
    return value, ()


def check_registry_input(value: str) -> str:
    if "@" in value:
        raise InputError("registry", f"carries user:password@; {CREDENTIALS_IN_URL}")
    check_registry(value)
    _, colon, port = value.rpartition(":")
    if colon and port.isdigit() and not 0 < int(port) <= 65535:
        raise InputError(
            "registry", f"{shown(value)} has a port out of range; a port is 1 to 65535"
        )
    return value


def check_trusted_root(value: str) -> str:
    if not value:
        return value
    try:
        data = json.loads(Path(value).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("trusted-root", f"{shown(value)} does not exist") from None
    except (OSError, ValueError) as exc:
        raise InputError(
            "trusted-root", f"{shown(value)} is not a trusted_root.json: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise InputError("trusted-root", f"{shown(value)} is not a trusted_root.json object")
    return value


def read_inputs(env: Mapping[str, str]) -> Settings:
    """Checks every input; the first bad one raises InputError naming it."""

    def get(name: str) -> str:
        return raw_input(env, name)

    warnings: list[tuple[str, str]] = []
    severities = tuple(s.lower() for s in parse_list(get("block-severities")))
    for severity in severities:
        parse_choice("block-severities", severity, SEVERITIES)
    registry = check_registry_input(get("registry"))
    harbor_url, warned = check_url("harbor-url", get("harbor-url") or f"https://{registry}")
    warnings += warned
    sign = parse_bool("sign", get("sign"))
    fulcio_url, _ = check_url("fulcio-url", get("fulcio-url"))
    rekor_url, _ = check_url("rekor-url", get("rekor-url"))
    issuer, _ = check_url("certificate-oidc-issuer", get("certificate-oidc-issuer"), True)
    trusted_root = check_trusted_root(get("trusted-root")) if sign else get("trusted-root")
    context = Path(get("context"))
    return Settings(
        plan=PlanRequest(
            service=get("service"),
            layer=parse_layer(get("layer")),
            version=get("version"),
            domain=get("domain"),
            registry=registry,
            project_prefix=get("project-prefix"),
        ),
        build=BuildSettings(
            context=context,
            dockerfile=resolve_dockerfile(context, get("dockerfile")),
            build_args=parse_build_args(get("build-args")),
            target=get("target"),
            platform=parse_choice("platform", get("platform"), PLATFORMS),
            push=parse_bool("push", get("push")),
        ),
        harbor=HarborAccess(
            api_url=harbor_url,
            credentials=Credentials(registry, get("harbor-username"), get("harbor-password")),
        ),
        gate=GateSettings(
            timeout=parse_seconds("scan-timeout", get("scan-timeout")),
            block_severities=severities,
            # Exact ids, as Harbor matches its allowlists (GHSA-... ids are mixed case).
            ignore_cves=parse_list(get("ignore-cves")),
            on_scan_error=parse_choice("on-scan-error", get("on-scan-error"), ("fail", "warn")),
        ),
        keep_blocked=parse_bool("keep-blocked", get("keep-blocked")),
        signing=SigningSettings(
            enabled=sign,
            sigstore=SigstoreConfig.create(
                fulcio_url=fulcio_url,
                rekor_url=rekor_url,
                trusted_root=trusted_root,
                tlog_upload=parse_bool("tlog-upload", get("tlog-upload")),
                signature_format=parse_choice(
                    "signature-format", get("signature-format"), ("legacy", "bundle")
                ),
            )
            if sign
            else SigstoreConfig(fulcio_url, rekor_url),
            certificate_oidc_issuer=issuer,
        ),
        environment=runner_environment(env),
        warnings=tuple(warnings),
        attest=parse_bool("attest", get("attest")),
        backend=read_backend(env),
    )


def runner_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The allowlisted variables plus the OIDC request pair, for the stages that need them."""
    kept = allowlisted(env)
    for name in (URL_VARIABLE, TOKEN_VARIABLE):
        if env.get(name):
            kept[name] = env[name]
    return kept


def signing_stage(env: Mapping[str, str]) -> tuple[SigningSettings, Credentials | None]:
    """What `signing.sign_and_verify` takes from the inputs: its settings and the robot login."""
    settings = read_inputs(env)
    given = settings.harbor.credentials
    return settings.signing, given if given.username else None
