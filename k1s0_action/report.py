"""The one place that writes the run's results: outputs, the job summary and the SARIF file.

Called once per run, from the command, whatever the run's end: success, a blocked image, a failed
stage or an unexpected error. Everything it writes comes from the `RunOutcome`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from k1s0_action import vulndiff
from k1s0_action.conformance import hadolint_sarif_run
from k1s0_action.gate import GateResult
from k1s0_action.gha import Actions
from k1s0_action.outcome import RunOutcome
from k1s0_action.scanreport import SARIF_SCHEMA, ScanReport, Verdict, artifact_url, sarif
from k1s0_action.summary import run_summary, severity_counts


def gate_report(
    image: str,
    digest: str,
    harbor_url: str,
    repository: str,
    gate: GateResult,
    promoted: tuple[str, ...] = (),
    withheld: tuple[tuple[str, str], ...] = (),
) -> ScanReport:
    """A gate's verdict in the shape the Markdown and SARIF renderers take."""
    return ScanReport(
        image=image,
        digest=digest,
        scan_status=gate.scan_status,
        verdict=gate.verdict,
        decision=gate.decision,
        artifact_url=artifact_url(harbor_url, gate.project.id, repository, digest),
        promoted=promoted,
        withheld=withheld,
        note=gate.note,
    )


def scan_report(outcome: RunOutcome) -> ScanReport | None:
    """The gate's part of the outcome, with what was promoted after it."""
    gate, pushed, plan = outcome.gate, outcome.pushed, outcome.plan
    if gate is None or pushed is None or plan is None:
        return None
    promotion = outcome.promotion if outcome.succeeded else None
    return gate_report(
        pushed.image,
        pushed.digest,
        outcome.settings.harbor_url,
        plan.repository,
        gate,
        tuple(t for t in promotion.tags_after if t != plan.tags.push_tag) if promotion else (),
        promotion.skipped if promotion else (),
    )


def sarif_document(outcome: RunOutcome, report: ScanReport | None) -> dict[str, Any] | None:
    """One SARIF file for code scanning: the scan's findings, and hadolint's at warning level."""
    location = sarif_location(outcome.settings.dockerfile)
    lint = hadolint_sarif_run(outcome.conformance, location) if outcome.conformance else None
    if report is None and lint is None:
        return None
    document = sarif(report, location) if report is not None else None
    if document is None:
        return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [lint]}
    if lint is not None:
        document["runs"].append(lint)
    return document


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
    document = sarif_document(outcome, report)
    if document is not None:
        subject = pushed.digest if pushed is not None else outcome.image_id
        path = actions.write_workspace_file(
            f"k1s0-image-scan-{subject.removeprefix('sha256:')[:12] or 'image'}.sarif",
            json.dumps(document, indent=2),
        )
        actions.set_output("sarif-file", str(path))
    if report is not None:
        actions.set_output("scan-status", report.scan_status)
        actions.set_output("vulnerabilities", severity_counts(report.decision))
        actions.set_output("blocked", report.verdict == Verdict.BLOCKED)
    if outcome.since_release is not None:
        actions.set_output(
            "new-vulnerabilities", json.dumps(vulndiff.new_json(outcome.since_release))
        )
    if outcome.signature is not None:
        for name, value in outcome.signature.outputs().items():
            actions.set_output(name, value)
    if outcome.attestations is not None:
        for name, value in outcome.attestations.outputs().items():
            actions.set_output(name, value)
    actions.summary(run_summary(outcome, report))
