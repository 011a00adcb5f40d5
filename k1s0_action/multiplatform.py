"""The scan gate over an image index: every platform's image is judged, never the index.

Harbor scans the children of an index, and counts the index as scanned as soon as any child is,
so a gate that waited for the index alone would fail open on the other platforms. Each child is
gated on its own (`gate.scan_gate`: wait, reports, allowlists, `gate.judge`) and the worst
verdict stands: one platform blocked blocks the index, one incomplete scan makes the whole result
incomplete. Signing and promotion then use the index digest (pipeline.py), so every platform is
signed and tagged together.
"""

from __future__ import annotations

from dataclasses import replace

from k1s0_action import gate
from k1s0_action.builder import PlatformImage
from k1s0_action.harbor import HarborClient
from k1s0_action.scanreport import Verdict

_RANK = {Verdict.PASSED: 0, Verdict.INCOMPLETE: 1, Verdict.BLOCKED: 2}


def scan_gate(
    client: HarborClient,
    project: str,
    repository: str,
    digest: str,
    children: tuple[PlatformImage, ...],
    settings: gate.GateSettings,
    log: gate.Log,
) -> gate.GateResult:
    """The gate of `digest`, or of each of `children` when `digest` is an image index."""
    if not children:
        return gate.scan_gate(client, project, repository, digest, settings, log)
    results: list[tuple[PlatformImage, gate.GateResult]] = []
    for child in children:
        log(f"{child.platform}: gating {child.digest} (image index {digest})")
        results.append(
            (child, gate.scan_gate(client, project, repository, child.digest, settings, log))
        )
    return combine(results)


def combine(results: list[tuple[PlatformImage, gate.GateResult]]) -> gate.GateResult:
    """The worst platform's result, with a note naming each platform that did not pass, and
    every platform's warnings and notices (each named by its platform)."""
    _, worst = max(results, key=lambda pair: _RANK.get(pair[1].verdict, 2))
    notes = [
        f"{child.platform}: {result.note or result.verdict}"
        for child, result in results
        if result.verdict != Verdict.PASSED
    ]
    warnings = tuple(
        gate.Annotation(w.title, f"{child.platform}: {w.message}")
        for child, result in results
        for w in result.warnings
    )
    notices = tuple(
        gate.Annotation(n.title, f"{child.platform}: {n.message}")
        for child, result in results
        for n in result.notices
    )
    return replace(
        worst, note="; ".join(notes) if notes else worst.note, warnings=warnings, notices=notices
    )
