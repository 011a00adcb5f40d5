"""Which release tags a digest that passed the gate receives (rules T3, immutability; pure).

Release tags are immutable: `<version>` on another digest is refused before anything is promoted,
on the same digest it is already done (re-runs are idempotent). `latest` only moves forward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import semver

from k1s0_action.errors import ActionError
from k1s0_action.versioning import may_take_latest, stable_versions

LATEST = "latest"


class ImmutableTagError(ActionError):
    """A release tag already names another image."""


@dataclass(frozen=True)
class TagMove:
    tag: str
    previous_digest: str | None  # the digest the tag leaves (only `latest` ever moves)


@dataclass(frozen=True)
class PromotionPlan:
    add: tuple[TagMove, ...] = ()
    already: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (tag, reason)

    @property
    def tags_after(self) -> tuple[str, ...]:
        return (*self.already, *(move.tag for move in self.add))


def plan_promotion(
    image: str,
    version: semver.Version | None,
    wanted: Sequence[str],
    digest: str,
    repository_tags: Mapping[str, str],
    latest_allowed: bool = True,
    latest_withheld_reason: str = "",
) -> PromotionPlan:
    """`repository_tags` maps every tag in the repository to its digest."""
    add: list[TagMove] = []
    already: list[str] = []
    skipped: list[tuple[str, str]] = []
    for tag in wanted:
        current = repository_tags.get(tag)
        if tag != LATEST:
            if current is not None and current != digest:
                raise ImmutableTagError(
                    f"{image}:{tag} already exists on {current}; release tags are immutable, "
                    f"so {digest} was not promoted: bump 'version' for a new release"
                )
            if current == digest:
                already.append(tag)
            else:
                add.append(TagMove(tag, None))
            continue
        if current == digest:
            already.append(tag)
        elif not latest_allowed:
            skipped.append((tag, latest_withheld_reason or "withheld"))
        elif version is None or not may_take_latest(version, repository_tags):
            skipped.append((tag, _not_newest(version, repository_tags)))
        else:
            add.append(TagMove(tag, current))
    return PromotionPlan(add=tuple(add), already=tuple(already), skipped=tuple(skipped))


def _not_newest(version: semver.Version | None, tags: Mapping[str, str]) -> str:
    if version is None:
        return "not a release build"
    if version.prerelease:
        return f"{version} is a pre-release"
    highest = max(stable_versions(tags))
    return f"{version} is below the highest release {highest}; latest stays where it is"
