"""The action's inputs, read once from the environment into one frozen value.

Defaults live here and in action.yml; a unit test keeps the two equal. GitHub passes an input
named `harbor-username` as INPUT_HARBOR-USERNAME (hyphens kept), which is how it is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from k1s0_action.errors import InputError
from k1s0_action.naming import Layer, parse_layer

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
    # Parsed by k1s0_action.builder: the build backend, the registry cache, the image's platforms.
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
}

SECRET_INPUTS = ("harbor-password",)
SEVERITIES = ("critical", "high", "medium", "low", "unknown")
PLATFORMS = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class ActionInputs:
    service: str
    layer: Layer
    version: str
    domain: str
    registry: str
    project_prefix: str
    context: Path
    dockerfile: Path
    build_args: tuple[tuple[str, str], ...]
    target: str
    platform: str
    push: bool
    harbor_username: str
    harbor_password: str = field(repr=False)
    harbor_url: str
    scan_timeout: float
    block_severities: tuple[str, ...]
    ignore_cves: tuple[str, ...]
    on_scan_error: str
    keep_blocked: bool
    sign: bool
    signature_format: str
    fulcio_url: str
    rekor_url: str
    trusted_root: str
    tlog_upload: bool
    certificate_oidc_issuer: str


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
    raise InputError(name, f"'{value}' is not a boolean; use true or false")


def parse_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InputError(name, f"'{value}' is not allowed; use one of {' | '.join(allowed)}")
    return value


def parse_build_args(value: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for number, line in enumerate(value.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, arg = text.partition("=")
        if not sep or not key.strip():
            raise InputError("build-args", f"line {number} '{text}' is not KEY=VALUE")
        pairs.append((key.strip(), arg))
    return tuple(pairs)


def parse_list(value: str) -> tuple[str, ...]:
    items = value.replace("\n", ",").split(",")
    return tuple(item.strip() for item in items if item.strip())


def parse_seconds(name: str, value: str) -> float:
    text = value.strip().lower()
    scale = 1.0
    if text.endswith("m"):
        text, scale = text[:-1], 60.0
    elif text.endswith("s"):
        text = text[:-1]
    try:
        seconds = float(text) * scale
    except ValueError:
        raise InputError(
            name, f"'{value}' is not a duration; use seconds (600) or minutes (10m)"
        ) from None
    if seconds <= 0:
        raise InputError(name, "must be positive")
    return seconds


def resolve_dockerfile(context: Path, dockerfile: str) -> Path:
    if not dockerfile:
        return context / "Dockerfile"
    path = Path(dockerfile)
    return path if path.is_absolute() else Path(os.path.normpath(path))


def read_inputs(env: Mapping[str, str]) -> ActionInputs:
    """Parses every input; the first bad one raises InputError naming it."""

    def get(name: str) -> str:
        return raw_input(env, name)

    severities = tuple(s.lower() for s in parse_list(get("block-severities")))
    for severity in severities:
        parse_choice("block-severities", severity, SEVERITIES)
    context = Path(get("context"))
    return ActionInputs(
        service=get("service"),
        layer=parse_layer(get("layer")),
        version=get("version"),
        domain=get("domain"),
        registry=get("registry"),
        project_prefix=get("project-prefix"),
        context=context,
        dockerfile=resolve_dockerfile(context, get("dockerfile")),
        build_args=parse_build_args(get("build-args")),
        target=get("target"),
        platform=parse_choice("platform", get("platform"), PLATFORMS),
        push=parse_bool("push", get("push")),
        harbor_username=get("harbor-username"),
        harbor_password=get("harbor-password"),
        harbor_url=get("harbor-url") or f"https://{get('registry')}",
        scan_timeout=parse_seconds("scan-timeout", get("scan-timeout")),
        block_severities=severities,
        ignore_cves=tuple(c.upper() for c in parse_list(get("ignore-cves"))),
        on_scan_error=parse_choice("on-scan-error", get("on-scan-error"), ("fail", "warn")),
        keep_blocked=parse_bool("keep-blocked", get("keep-blocked")),
        sign=parse_bool("sign", get("sign")),
        signature_format=parse_choice(
            "signature-format", get("signature-format"), ("legacy", "bundle")
        ),
        fulcio_url=get("fulcio-url"),
        rekor_url=get("rekor-url"),
        trusted_root=get("trusted-root"),
        tlog_upload=parse_bool("tlog-upload", get("tlog-upload")),
        certificate_oidc_issuer=get("certificate-oidc-issuer"),
    )
