"""The new digest's findings against the last release's, from Harbor's own reports: finds the
previous release's digest and its report (before promotion moves `latest`), then writes the diff
to the log, the job summary and the `new-vulnerabilities` output."""

from __future__ import annotations

import json

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
    markdown,
    new_json,
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


def report_release_diff(
    client: HarborClient,
    actions: Actions,
    project: str,
    repository: str,
    digest: str,
    version: semver.Version | None,
    release: bool,
    decision: Decision | None,
) -> VulnDiff:
    """Compares, and says so in the log, the job summary and `new-vulnerabilities`."""
    diff = diff_with_release(client, project, repository, digest, version, release, decision)
    for line in log_lines(diff):
        actions.info(line)
    actions.summary(markdown(diff))
    actions.set_output("new-vulnerabilities", json.dumps(new_json(diff)))
    return diff
