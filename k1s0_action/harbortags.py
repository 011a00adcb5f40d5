"""The run's tag operations through Harbor's tag API (rules T3, V2): which release tags a gated
digest gets, adding them, and removing the build tag of a blocked image.

Release tags are only ever added through Harbor's API, never by a second push, so they land on
exactly the digest that was judged. The pure rules are in promotion.py.
"""

from __future__ import annotations

import contextlib

import semver

from k1s0_action.errors import HarborError
from k1s0_action.gha import Actions
from k1s0_action.harbor import HarborClient, HarborNotFoundError
from k1s0_action.promotion import LATEST, PromotionPlan, plan_promotion

LATEST_WITHHELD = "the scan did not complete (on-scan-error: warn)"


def remove_blocked(
    client: HarborClient, project: str, repository: str, digest: str, tag: str, actions: Actions
) -> bool:
    """True when the tag is gone; a failure to remove it is a warning, never the run's error."""
    try:
        client.delete_tag(project, repository, digest, tag)
        actions.info(f"removed the tag {tag} of the blocked image (keep-blocked: false)")
    except HarborError as error:
        actions.warning(f"could not remove the tag {tag} of the blocked image: {error}")
        return False
    return True


def repository_tags(client: HarborClient, project: str, repository: str) -> dict[str, str]:
    return {
        tag: artifact.digest
        for artifact in client.list_artifacts(project, repository)
        for tag in artifact.tags
    }


def promote(
    client: HarborClient,
    image: str,
    project: str,
    repository: str,
    digest: str,
    plan: PromotionPlan,
    actions: Actions,
) -> None:
    for move in plan.add:
        if move.tag == LATEST and move.previous_digest:
            # Harbor refuses a tag that exists in the repository, so `latest` leaves first.
            # Gone already means someone else moved it meanwhile; creating it below settles it.
            with contextlib.suppress(HarborNotFoundError):
                client.delete_tag(project, repository, move.previous_digest, LATEST)
        client.create_tag(project, repository, digest, move.tag)
        actions.info(f"promoted {image}:{move.tag} -> {digest}")
    for tag, reason in plan.skipped:
        actions.info(f"not promoting {tag}: {reason}")


def plan_release_tags(
    client: HarborClient,
    image: str,
    project: str,
    repository: str,
    digest: str,
    version: semver.Version | None,
    wanted: tuple[str, ...],
    latest_allowed: bool,
) -> PromotionPlan:
    """`latest_allowed` is the gate's: False when it passed without a verdict."""
    return plan_promotion(
        image,
        version,
        wanted,
        digest,
        repository_tags(client, project, repository) if wanted else {},
        latest_allowed=latest_allowed,
        latest_withheld_reason=LATEST_WITHHELD,
    )
