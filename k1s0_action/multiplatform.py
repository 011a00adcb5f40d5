"""The scan gate over an image index: every platform's image is judged, never the index.

Harbor scans the children of an index, and counts the index as scanned as soon as any child is,
so a gate that waited for the index alone would fail open on the other platforms. Each child is
gated on its own (wait, report, policy) and the worst verdict stands: one platform blocked blocks
the index, one incomplete scan makes the whole result incomplete. Signing and promotion then use
the index digest (pipeline.py), so every platform is signed and tagged together.
"""

from __future__ import annotations

from dataclasses import replace

from k1s0_action import gate
from k1s0_action.builder import BuildResult, PlatformImage
from k1s0_action.gha import Actions
from k1s0_action.harbor import HarborClient
from k1s0_action.scanreport import Verdict

_RANK = {Verdict.PASSED: 0, Verdict.INCOMPLETE: 1, Verdict.BLOCKED: 2}


def scan_gate(
    client: HarborClient,
    project: str,
    repository: str,
    built: BuildResult,
    settings: gate.GateSettings,
    actions: Actions,
) -> gate.GateResult:
    if not built.is_index:
        return gate.scan_gate(client, project, repository, built.digest, settings, actions)
    results: list[tuple[PlatformImage, gate.GateResult]] = []
    for child in built.children:
        actions.info(f"{child.platform}: gating {child.digest} (image index {built.digest})")
        results.append(
            (child, gate.scan_gate(client, project, repository, child.digest, settings, actions))
        )
    return combine(results)


def combine(results: list[tuple[PlatformImage, gate.GateResult]]) -> gate.GateResult:
    """The worst platform's result, with a note naming each platform that did not pass."""
    _, worst = max(results, key=lambda pair: _RANK.get(pair[1].verdict, 2))
    notes = [
        f"{child.platform}: {result.note or result.verdict}"
        for child, result in results
        if result.verdict != Verdict.PASSED
    ]
    if not notes:
        return worst
    return replace(worst, note="; ".join(notes))
