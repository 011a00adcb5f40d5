"""The job summary, as Markdown (pure rendering of a `RunOutcome`).

It reads top-down: what happened in one line, the image and its tags, each stage's state (so a
failed run shows what was done and what was not), the gate's verdict, then the signature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from k1s0_action import vulndiff
from k1s0_action.conformance import summary_markdown as rules_markdown
from k1s0_action.outcome import RunOutcome, Stage, StageState
from k1s0_action.policy import SEVERITIES, Decision
from k1s0_action.scanreport import ScanReport, markdown

_STATE_ICON = {
    StageState.DONE: "✅",
    StageState.FAILED: "❌",
    StageState.SKIPPED: "⏭️",
    StageState.NOT_REACHED: "⏸️",
}


def severity_counts(decision: Decision | None) -> dict[str, int]:
    found: Mapping[str, int] = decision.found_by_severity() if decision else {}
    return {severity: found.get(severity, 0) for severity in SEVERITIES if severity != "none"}


def image_summary(
    image: str, digest: str | None, pushed_tags: Sequence[str], planned_tags: Sequence[str]
) -> str:
    lines = ["| | |", "|---|---|", f"| Image | `{image}` |"]
    if digest:
        lines.append(f"| Digest | `{digest}` |")
        lines.append(f"| Reference | `{image}@{digest}` |")
    shown = ", ".join(f"`{tag}`" for tag in pushed_tags) or "none (not pushed)"
    lines.append(f"| Tags | {shown} |")
    held_back = [tag for tag in planned_tags if tag not in pushed_tags]
    if held_back:
        lines.append(f"| Not applied | {', '.join(f'`{tag}`' for tag in held_back)} |")
    return "\n".join(lines) + "\n"


def _fenced(text: str) -> list[str]:
    """Text that may quote outside systems, shown verbatim and unable to end its block."""
    return ["```text", text.replace("```", "'''"), "```"]


def _headline(outcome: RunOutcome) -> str:
    if not outcome.succeeded:
        return f"**❌ failed at {outcome.failed_stage}**"
    if outcome.pushed is None:
        return "**✅ built (push: false)**"
    if outcome.already_released:
        added = [m.tag for m in outcome.promotion.add] if outcome.promotion else []
        return (
            "**✅ re-run: already released from this commit**; its scan gate and signature were "
            "checked again, nothing was built or pushed, and "
            + (
                f"the missing {', '.join(f'`{t}`' for t in added)} added"
                if added
                else "nothing was promoted"
            )
        )
    done = ["pushed", "scanned"]
    if outcome.signature is not None:
        done.append("signed")
    return f"**✅ {', '.join(done)} and promoted**"


def steps_table(outcome: RunOutcome) -> list[str]:
    lines = ["| Step | Result |", "|---|---|"]
    for stage in Stage:
        state = outcome.stage_state(stage)
        lines.append(f"| {stage.value} | {_STATE_ICON[state]} {state.value} |")
    return lines


def run_summary(outcome: RunOutcome, scan: ScanReport | None) -> str:
    lines = ["## k1s0-image", "", _headline(outcome), ""]
    if outcome.error:
        lines += [*_fenced(outcome.error), ""]
        if outcome.pushed is not None and outcome.failed_stage != Stage.PROMOTE:
            lines += ["No release tag was moved by this run.", ""]
    plan = outcome.plan
    if plan is not None:
        lines.append(
            image_summary(
                plan.image,
                outcome.pushed.digest if outcome.pushed else None,
                outcome.applied_tags,
                plan.tags.all_tags,
            )
        )
    lines += ["### Steps", "", *steps_table(outcome), ""]
    if outcome.conformance is not None:
        lines.append(rules_markdown(outcome.conformance))
    if scan is not None:
        lines.append(markdown(scan))
    if outcome.since_release is not None:
        lines.append(vulndiff.markdown(outcome.since_release))
    signature = outcome.signature
    if signature is not None:
        lines += ["### Signature", "", "| | |", "|---|---|", *signature.summary_lines(), ""]
    if outcome.attestations is not None:
        lines += [*outcome.attestations.summary_lines(), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
