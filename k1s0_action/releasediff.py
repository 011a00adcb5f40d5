"""The new digest's findings against the last release's, from Harbor's own reports: finds the
previous release's digest and its report (before promotion moves `latest`) and logs the diff."""

from __future__ import annotations

import semver

from k1s0_action.errors import HarborError
from k1s0_action.gha import Actions
from k1s0_action.harbor import HarborClient
from k1s0_action.policy import Decision
from k1s0_action.vulndiff import (
    DiffStatus,
    VulnDiff,
    compare,
    log_lines,
    previous_release,
    same_digest,
    skipped,
)


def diff_with_release(
    client: HarborClient,
    project: str,
    repository: str,
    digest: str,
    version: semver.Version | None,
    release: bool,
    decision: Decision | None,
) -> VulnDiff:
    if decision is None:
        return skipped(DiffStatus.UNAVAILABLE, "this digest's scan gave no report")
    current = tuple(judged.finding for judged in decision.judged)
    try:
        artifacts = list(client.list_artifacts(project, repository))
        tags = {tag: a.digest for a in artifacts for tag in a.tags}
        baseline = previous_release(tags, digest, version, release)
        if baseline is None:
            what = "release below this version" if release and version else "image tagged latest"
            return skipped(DiffStatus.NO_PREVIOUS, f"no previous {what} in {project}/{repository}")
        if baseline.digest == digest:
            return same_digest(current, baseline)
        scan = next((a.scan for a in artifacts if a.digest == baseline.digest), None)
        if scan is None or scan.status != "Success":
            return skipped(
                DiffStatus.NO_REPORT,
                f"{baseline.tag} ({baseline.digest}) has no scan report in Harbor "
                f"(scan status {scan.status if scan else 'none'}); nothing to compare with",
                baseline,
            )
        previous = client.vulnerabilities(project, repository, baseline.digest)
    except HarborError as error:
        return skipped(DiffStatus.UNAVAILABLE, f"Harbor could not be asked: {error.diagnostics()}")
    return compare(current, previous, baseline)


def diff_and_log(
    client: HarborClient,
    actions: Actions,
    project: str,
    repository: str,
    digest: str,
    version: semver.Version | None,
    release: bool,
    decision: Decision | None,
) -> VulnDiff:
    """Compares, and says so in the log; the report module writes the summary and the
    `new-vulnerabilities` output from the returned value."""
    diff = diff_with_release(client, project, repository, digest, version, release, decision)
    for line in log_lines(diff):
        actions.info(line)
    return diff
