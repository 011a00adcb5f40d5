"""Test images with known findings: real images whose Alpine-style root filesystem lists, in its apk
database, package versions that the fixture Trivy DB (k1s0_stack/trivy/fixture-db.json) has
advisories for. Built with the Docker engine from local parts only (no pulls)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from k1s0_stack.trivy import FIXTURE_DB

BASE_IMAGE = "k1s0.local/busybox:1.35"  # scripts/base-images.sh
ALPINE_RELEASE = "3.22.1"


@dataclass(frozen=True)
class ApkPackage:
    name: str
    version: str
    origin: str
    description: str


# Packages without advisories in the fixture DB.
_BASE = (
    ApkPackage("alpine-baselayout", "3.7.0-r0", "alpine-baselayout", "Alpine base dir structure"),
    ApkPackage("musl", "1.2.5-r10", "musl", "the musl c library (libc) implementation"),
    ApkPackage(
        "busybox", "1.37.0-r19", "busybox", "Size optimized toolbox of many common UNIX utilities"
    ),
)
_FIXED_ZLIB = ApkPackage("zlib", "1.3.1-r3", "zlib", "A compression/decompression Library")
_VULNERABLE = {
    "critical": ApkPackage("zlib", "1.3.1-r2", "zlib", "A compression/decompression Library"),
    "high": ApkPackage("libexpat", "2.7.1-r0", "expat", "XML SAX Parser library written in C"),
    "medium": ApkPackage("libxml2", "2.13.8-r0", "libxml2", "XML parsing library, version 2"),
    "low": ApkPackage("ncurses-libs", "6.5_p20250503-r0", "ncurses", "Ncurses libraries"),
    "allowlisted-high": ApkPackage("sqlite-libs", "3.49.2-r0", "sqlite", "Sqlite3 library"),
}
KINDS = ("clean", "critical", "high", "medium", "low", "allowlisted-high", "mixed")


def _advisories() -> list[dict[str, Any]]:
    advisories: list[dict[str, Any]] = json.loads(FIXTURE_DB.read_text())["advisories"]
    return advisories


def _cves_for(packages: tuple[ApkPackage, ...]) -> tuple[str, ...]:
    origins = {package.origin for package in packages}
    return tuple(sorted(a["id"] for a in _advisories() if a["package"] in origins))


def packages(kind: str) -> tuple[ApkPackage, ...]:
    if kind == "clean":
        # A fixed zlib shows that Trivy compares versions, not just names.
        return (*_BASE, _FIXED_ZLIB)
    if kind == "mixed":
        return (*_BASE, *_VULNERABLE.values())
    if kind not in _VULNERABLE:
        raise ValueError(f"unknown test image kind {kind!r}; one of {', '.join(KINDS)}")
    return (*_BASE, _VULNERABLE[kind])


def _vulnerable(kind: str) -> tuple[ApkPackage, ...]:
    if kind == "clean":
        return ()
    return tuple(_VULNERABLE.values()) if kind == "mixed" else (_VULNERABLE[kind],)


FIXTURE_CVES: dict[str, tuple[str, ...]] = {kind: _cves_for(_vulnerable(kind)) for kind in KINDS}
# Harbor's severity name for each fixture CVE, e.g. "CVE-2099-10001": "Critical".
FIXTURE_SEVERITY: dict[str, str] = {a["id"]: a["severity"].capitalize() for a in _advisories()}
ALLOWLISTED_CVE = FIXTURE_CVES["allowlisted-high"][0]


def _apk_installed(pkgs: tuple[ApkPackage, ...]) -> str:
    entries = []
    for pkg in pkgs:
        entries.append(
            "\n".join(
                [
                    f"P:{pkg.name}",
                    f"V:{pkg.version}",
                    "A:x86_64",
                    f"T:{pkg.description}",
                    "L:MIT",
                    f"o:{pkg.origin}",
                    "m:k1s0 fixtures <fixtures@k1s0.invalid>",
                ]
            )
        )
    return "\n\n".join(entries) + "\n\n"


def build_context(kind: str, directory: Path) -> Path:
    """Writes a build context (Dockerfile + root filesystem files) for `kind`; returns it."""
    pkgs = packages(kind)
    directory.mkdir(parents=True, exist_ok=True)
    rootfs = directory / "rootfs"
    files = {
        "etc/alpine-release": f"{ALPINE_RELEASE}\n",
        "etc/os-release": (
            'NAME="Alpine Linux"\nID=alpine\n'
            f"VERSION_ID={ALPINE_RELEASE}\n"
            f'PRETTY_NAME="Alpine Linux v{ALPINE_RELEASE.rsplit(".", 1)[0]}"\n'
        ),
        "etc/apk/repositories": (
            f"https://dl-cdn.alpinelinux.org/alpine/v{ALPINE_RELEASE.rsplit('.', 1)[0]}/main\n"
        ),
        "lib/apk/db/installed": _apk_installed(pkgs),
        "etc/k1s0-test-image": f"{kind}\n",
    }
    for relative, content in files.items():
        path = rootfs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (directory / "Dockerfile").write_text(
        f'FROM {BASE_IMAGE}\nCOPY rootfs/ /\nUSER 65532\nCMD ["cat", "/etc/k1s0-test-image"]\n'
    )
    return directory


def build_test_image(docker_api: Any, kind: str, tag: str) -> str:
    """Builds the `kind` image as `tag` (a local reference) with the engine's API; returns `tag`."""
    with tempfile.TemporaryDirectory(prefix=f"k1s0-testimage-{kind}-") as tmp:
        context = build_context(kind, Path(tmp))
        for chunk in docker_api.build(
            path=str(context), tag=tag, rm=True, forcerm=True, decode=True, network_mode="none"
        ):
            if "error" in chunk:
                raise RuntimeError(f"building test image {kind}: {chunk['error'].strip()}")
    return tag


def untag(docker_api: Any, ref: str) -> None:
    """Removes a local tag; the image stays when something else (a tag, a container) uses it."""
    try:
        docker_api.remove_image(ref)
    except Exception as exc:
        if getattr(getattr(exc, "response", None), "status_code", None) != 409:
            raise


# -- pushing without the Docker engine (the registry API through LocalHarbor's /v2/) -------------


def _upload_blob(base: str, repository: str, data: bytes, auth: tuple[str, str]) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = requests.post(f"{base}/v2/{repository}/blobs/uploads/", auth=auth, timeout=30)
    started.raise_for_status()
    location = started.headers["Location"]
    if location.startswith("/"):
        location = base + location
    separator = "&" if "?" in location else "?"
    done = requests.put(
        f"{location}{separator}digest={digest}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        auth=auth,
        timeout=30,
    )
    done.raise_for_status()
    return digest


def push_raw_image(
    base_url: str,
    repository: str,
    reference: str | None,
    auth: tuple[str, str],
    files: dict[str, bytes] | None = None,
    subject: dict[str, Any] | None = None,
    layer_media_type: str = "application/vnd.oci.image.layer.v1.tar+gzip",
    artifact_type: str | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """Pushes a one-layer OCI image (or, with `subject`, an accessory manifest) with the registry
    API, under `reference` (a tag; None: by digest); returns the manifest digest. For tests that
    need an artifact but not a real build. `labels` go into the image config, where Harbor shows
    them as `extra_attrs.config.Labels`."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w:gz") as tar:
        for name, content in (files or {"hello.txt": b"hello\n"}).items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    layer_bytes = layer.getvalue()
    config_fields: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    if labels:
        config_fields["config"] = {"Labels": labels}
    config = json.dumps(config_fields).encode()
    config_digest = _upload_blob(base_url, repository, config, auth)
    layer_digest = _upload_blob(base_url, repository, layer_bytes, auth)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [
            {"mediaType": layer_media_type, "digest": layer_digest, "size": len(layer_bytes)}
        ],
    }
    if subject:
        manifest["subject"] = subject
    if artifact_type:
        manifest["artifactType"] = artifact_type
    body = json.dumps(manifest).encode()
    reference = reference or "sha256:" + hashlib.sha256(body).hexdigest()
    response = requests.put(
        f"{base_url}/v2/{repository}/manifests/{reference}",
        data=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        auth=auth,
        timeout=30,
    )
    response.raise_for_status()
    return str(response.headers["Docker-Content-Digest"])
