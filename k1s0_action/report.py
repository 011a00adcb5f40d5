"""The one place that writes the run's results: outputs, the job summary and the SARIF file.

Called once per run, from the command, whatever the run's end: success, a blocked image, a failed
stage or an unexpected error. Everything it writes comes from the `RunOutcome`.
"""

from __future__ import annotations

import json
from pathlib import Path

from k1s0_action.gha import Actions
from k1s0_action.outcome import RunOutcome
from k1s0_action.scanreport import ScanReport, Verdict, artifact_url, sarif
from k1s0_action.summary import run_summary, severity_counts


def scan_report(outcome: RunOutcome) -> ScanReport | None:
    """The gate's part of the outcome in the shape the Markdown and SARIF renderers take."""
    gate, pushed, plan = outcome.gate, outcome.pushed, outcome.plan
    if gate is None or pushed is None or plan is None:
        return None
    promotion = outcome.promotion if outcome.succeeded else None
    return ScanReport(
        image=pushed.image,
        digest=pushed.digest,
        scan_status=gate.scan_status,
        verdict=gate.verdict,
        decision=gate.decision,
        artifact_url=artifact_url(
            outcome.settings.harbor_url, gate.project.id, plan.repository, pushed.digest
        ),
        promoted=tuple(t for t in promotion.tags_after if t != plan.tags.push_tag)
        if promotion
        else (),
        withheld=promotion.skipped if promotion else (),
        note=gate.note,
    )


def sarif_location(dockerfile: Path | None) -> str:
    """The Dockerfile as a workspace-relative URI, where code scanning shows the findings."""
    if dockerfile is None:
        return "Dockerfile"
    if dockerfile.is_absolute():
        try:
            return dockerfile.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return dockerfile.name
    return dockerfile.as_posix()


def publish(actions: Actions, outcome: RunOutcome) -> None:
    plan, pushed = outcome.plan, outcome.pushed
    if plan is not None:
        actions.set_output("image", plan.image)
        actions.set_output("push-tag", plan.tags.push_tag)
        actions.set_output("tags", list(outcome.applied_tags))
    if pushed is not None:
        actions.set_output("digest", pushed.digest)
        actions.set_output("image-ref", pushed.reference)
    report = scan_report(outcome)
    if report is not None:
        path = actions.write_workspace_file(
            f"k1s0-image-scan-{report.digest.removeprefix('sha256:')[:12]}.sarif",
            json.dumps(sarif(report, sarif_location(outcome.settings.dockerfile)), indent=2),
        )
        actions.set_output("scan-status", report.scan_status)
        actions.set_output("vulnerabilities", severity_counts(report.decision))
        actions.set_output("blocked", report.verdict == Verdict.BLOCKED)
        actions.set_output("sarif-file", str(path))
    if outcome.signature is not None:
        for name, value in outcome.signature.outputs().items():
            actions.set_output(name, value)
    actions.summary(run_summary(outcome, report))
