"""Test images with known findings: real images whose Alpine-style root filesystem lists, in its apk
database, package versions that the fixture Trivy DB (k1s0_stack/trivy/fixture-db.json) has
advisories for. Built with the Docker engine from local parts only (no pulls)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    ApkPackage("busybox", "1.37.0-r19", "busybox", "Size optimized toolbox of many common UNIX utilities"),
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


FIXTURE_CVES: dict[str, tuple[str, ...]] = {kind: _cves_for(packages(kind)) for kind in KINDS}
# Harbor's severity name for each fixture CVE, e.g. "CVE-2099-10001": "Critical".
FIXTURE_SEVERITY: dict[str, str] = {
    a["id"]: a["severity"].capitalize() for a in _advisories()
}
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
        f"FROM {BASE_IMAGE}\nCOPY rootfs/ /\nUSER 65532\nCMD [\"cat\", \"/etc/k1s0-test-image\"]\n"
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
