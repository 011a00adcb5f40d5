"""Which tags a build gets (rules T1-T7).

The tag pushed first identifies the build (`<version>-<sha7>` or `<branch>-<sha7>`); the release
tags are only promoted after the image has passed the scan gate and been signed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import semver

from k1s0_action.errors import InputError

MAX_TAG_LENGTH = 128
SHORT_SHA_LENGTH = 7  # T7
_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_NOT_TAG_CHAR = re.compile(r"[^a-z0-9_.-]+")
_DASH_RUNS = re.compile(r"-{2,}")


@dataclass(frozen=True)
class TagPlan:
    push_tag: str
    promote_tags: tuple[str, ...]
    release: bool

    @property
    def all_tags(self) -> tuple[str, ...]:
        return (self.push_tag, *self.promote_tags)


def short_sha(sha: str) -> str:
    sha = sha.strip().lower()
    if not _SHA.match(sha):
        raise InputError("sha", f"'{sha}' is not a git commit sha (hex, at least 7 characters)")
    return sha[:SHORT_SHA_LENGTH]


def sanitize_branch(branch: str, room: int = MAX_TAG_LENGTH) -> str:
    """A branch name in the tag grammar ('feature/Auth' -> 'feature-auth'), at most `room` long."""
    text = _NOT_TAG_CHAR.sub("-", branch.strip().lower())
    text = _DASH_RUNS.sub("-", text).lstrip(".-")
    text = text[:room].rstrip(".-")
    return text or "branch"


def release_tags(version: semver.Version, sha7: str) -> TagPlan:
    """T1, T2, T3, T5: a build of the default branch."""
    promote = [str(version)]
    if not version.prerelease:
        promote.append("latest")
    return TagPlan(push_tag=f"{version}-{sha7}", promote_tags=tuple(promote), release=True)


def branch_tags(branch: str, sha7: str) -> TagPlan:
    """T4, T6: a development-branch build is only ever tagged <branch>-<sha7>."""
    room = MAX_TAG_LENGTH - len(sha7) - 1
    return TagPlan(
        push_tag=f"{sanitize_branch(branch, room)}-{sha7}", promote_tags=(), release=False
    )
