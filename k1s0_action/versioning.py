"""Release versions: Semantic Versioning, as a Docker tag can carry it."""

from __future__ import annotations

import re
from collections.abc import Iterable

import semver

from k1s0_action.errors import InputError

TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def parse_version(value: str, input_name: str = "version") -> semver.Version:
    """A semver version; a leading 'v' is accepted and dropped."""
    text = value.strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    if not text:
        raise InputError(input_name, "is required on a release build; give a version such as 1.2.3")
    try:
        version = semver.Version.parse(text)
    except ValueError:
        raise InputError(
            input_name, f"'{value}' is not a semantic version; use MAJOR.MINOR.PATCH, e.g. 1.2.3"
        ) from None
    if version.build:
        raise InputError(
            input_name,
            f"'{value}' has build metadata ('+{version.build}'), which a Docker tag cannot hold; "
            "drop the '+...' part",
        )
    if not TAG_PATTERN.match(str(version)):
        raise InputError(input_name, f"'{value}' cannot form a Docker tag (at most 128 characters)")
    return version


def tag_version(tag: str) -> semver.Version | None:
    """The version a git tag names (`v1.2.3`, `1.2.3`), or None when it names none."""
    try:
        return parse_version(tag, "ref")
    except InputError:
        return None


def stable_versions(tags: Iterable[str]) -> list[semver.Version]:
    """The stable (non-prerelease) semver versions among a repository's tags."""
    found = []
    for tag in tags:
        try:
            version = semver.Version.parse(tag)
        except ValueError:
            continue
        if not version.prerelease and not version.build:
            found.append(version)
    return found


def may_take_latest(version: semver.Version, existing_tags: Iterable[str]) -> bool:
    """T3: 'latest' only moves forward: a stable release not below any stable one present."""
    if version.prerelease:
        return False
    return all(version >= other for other in stable_versions(existing_tags))
