"""Image names from the organisation's registry layout (rules N1, N2).

Names are validated against the OCI distribution reference grammar and rejected, never rewritten:
a silently changed name would push somewhere nobody looks.
"""

from __future__ import annotations

import re
from enum import StrEnum

from k1s0_action.errors import InputError

# One path component of an OCI repository name (distribution/reference grammar).
PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
# host[:port]: DNS labels or an IPv4 address, optional port (IPv6 literals are not used here).
REGISTRY_HOST = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
    r"(?::[0-9]{1,5})?$"
)
# Docker's reference grammar caps the whole name, registry host included, at 255 characters.
MAX_NAME_LENGTH = 255


class Layer(StrEnum):
    SYSTEM = "system"
    BUSINESS = "business"
    SERVICE = "service"
    INFRA = "infra"


def parse_layer(value: str) -> Layer:
    try:
        return Layer(value)
    except ValueError:
        allowed = " | ".join(layer.value for layer in Layer)
        shown = value or "(empty)"
        raise InputError("layer", f"'{shown}' is not a layer; use one of {allowed}") from None


def check_component(input_name: str, value: str) -> str:
    if not value:
        raise InputError(input_name, "is required")
    if not PATH_COMPONENT.match(value):
        raise InputError(
            input_name,
            f"'{value}' is not a valid image name part; use lower-case letters and digits, "
            "separated by single '.', '_' or '-' (no spaces, '/' or upper case)",
        )
    return value


def check_registry(value: str) -> str:
    if not value or not REGISTRY_HOST.match(value):
        raise InputError(
            "registry",
            f"'{value}' is not a registry host; give host or host:port, e.g. harbor.example.com",
        )
    return value


def harbor_project(project_prefix: str, layer: Layer) -> str:
    """N2: one Harbor project per layer."""
    return f"{project_prefix}-{layer.value}"


def repository_name(layer: Layer, service: str, domain: str | None) -> str:
    """N2: business-layer images are named <domain>-<service>."""
    if layer is Layer.BUSINESS:
        if not domain:
            raise InputError("domain", "is required when layer is 'business'")
        return f"{domain}-{service}"
    return service


def image_name(
    registry: str, project_prefix: str, layer: Layer, service: str, domain: str | None
) -> str:
    """N1: <registry>/<prefix>-<layer>/<name>."""
    check_registry(registry)
    check_component("project-prefix", project_prefix)
    check_component("service", service)
    if domain:
        check_component("domain", domain)
    name = f"{harbor_project(project_prefix, layer)}/{repository_name(layer, service, domain)}"
    full = f"{registry}/{name}"
    if len(full) > MAX_NAME_LENGTH:
        raise InputError(
            "domain" if domain and len(domain) > len(service) else "service",
            f"the image name {registry}/{name[:40]}... is {len(full)} characters long, over "
            f"Docker's limit of {MAX_NAME_LENGTH} (registry host included); shorten it",
        )
    return full
