"""What changed since the last release: the new digest's Critical/High/Medium findings against
those of the digest the previous release tag (or `latest`) points at (pure: choice of the
baseline, the diff, its Markdown, log lines and JSON)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import semver

from k1s0_action.policy import SEVERITIES, Finding
from k1s0_action.promotion import LATEST
from k1s0_action.versioning import stable_versions

DIFF_SEVERITIES = ("critical", "high", "medium")
TABLE_CAP = 30
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_LINK = re.compile(r"^https?://[^\s()<>\[\]|]+$")


@dataclass(frozen=True)
class Baseline:
    tag: str  # the previous release tag, or "latest"
    digest: str


class DiffStatus(StrEnum):
    COMPARED = "compared"
    NO_PREVIOUS = "no previous release"
    NO_REPORT = "previous report missing"
    SAME_DIGEST = "same digest"
    UNAVAILABLE = "unavailable"  # Harbor could not be asked, or the scan gave no report


@dataclass(frozen=True)
class VulnDiff:
    status: DiffStatus
    baseline: Baseline | None = None
    new: tuple[Finding, ...] = ()
    fixed: tuple[Finding, ...] = ()
    remaining: tuple[Finding, ...] = ()
    note: str = ""  # why nothing was compared

    @property
    def compared(self) -> bool:
        return self.status in (DiffStatus.COMPARED, DiffStatus.SAME_DIGEST)


def previous_release(
    tags: Mapping[str, str], digest: str, version: semver.Version | None, release: bool
) -> Baseline | None:
    """A release compares with the highest release below its version; any other build with
    what `latest` points at. `tags` maps every tag of the repository to its digest."""
    if release and version is not None:
        below = [
            found
            for found in stable_versions(tags)
            if found < version and tags[str(found)] != digest
        ]
        if below:
            tag = str(max(below))
            return Baseline(tag, tags[tag])
        return None
    latest = tags.get(LATEST)
    return Baseline(LATEST, latest) if latest else None


def _key(finding: Finding) -> tuple[str, str]:
    return (finding.id.upper(), finding.package)


def _ranked(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(
        sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.id.upper(), f.package))
    )


def compare(
    current: Iterable[Finding], previous: Iterable[Finding], baseline: Baseline
) -> VulnDiff:
    """New, fixed and remaining Critical/High/Medium findings, by (id, package); a remaining
    finding is shown as the new report rates it."""
    now = {_key(f): f for f in current if f.severity in DIFF_SEVERITIES}
    before = {_key(f): f for f in previous if f.severity in DIFF_SEVERITIES}
    return VulnDiff(
        status=DiffStatus.COMPARED,
        baseline=baseline,
        new=_ranked(f for key, f in now.items() if key not in before),
        fixed=_ranked(f for key, f in before.items() if key not in now),
        remaining=_ranked(f for key, f in now.items() if key in before),
    )


def same_digest(current: Iterable[Finding], baseline: Baseline) -> VulnDiff:
    diff = compare(current, current, baseline)
    return VulnDiff(DiffStatus.SAME_DIGEST, baseline, remaining=diff.remaining)


def skipped(status: DiffStatus, note: str, baseline: Baseline | None = None) -> VulnDiff:
    return VulnDiff(status, baseline, note=note)


def new_json(diff: VulnDiff) -> list[dict[str, Any]]:
    """The `new-vulnerabilities` output: one object per new finding (empty when skipped)."""
    return [
        {
            "id": f.id,
            "package": f.package,
            "version": f.version,
            "fix_version": f.fix_version,
            "severity": f.severity,
        }
        for f in diff.new
    ]


def _text(value: str) -> str:
    """Harbor's text on one line, so that it can never start a line (or a workflow command)."""
    return _CONTROL.sub(" ", value).strip()


def _cell(value: str) -> str:
    return _text(value).replace("|", "\\|") or "-"


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _counts(findings: tuple[Finding, ...]) -> str:
    parts = [
        f"{sum(1 for f in findings if f.severity == s)} {s}"
        for s in DIFF_SEVERITIES
        if any(f.severity == s for f in findings)
    ]
    return ", ".join(parts) or "none"


def headline(diff: VulnDiff) -> str:
    base = diff.baseline
    if not diff.compared or base is None:
        return f"not compared with the last release: {diff.note or diff.status.value}"
    against = f"{base.tag} ({_short(base.digest)})"
    if diff.status is DiffStatus.SAME_DIGEST:
        return f"same digest as {against}: nothing changed"
    return (
        f"since {against}: {len(diff.new)} new ({_counts(diff.new)}), "
        f"{len(diff.fixed)} fixed, {len(diff.remaining)} remaining"
    )


def log_lines(diff: VulnDiff) -> tuple[str, ...]:
    lines = [headline(diff)]
    for label, findings in (("new", diff.new), ("fixed", diff.fixed)):
        lines += [
            f"  {label}: {_text(f.id)} ({f.severity}) in {_text(f.package)} {_text(f.version)}"
            for f in findings
        ]
    return tuple(lines)


def _row(state: str, finding: Finding) -> str:
    link = _cell(finding.id)
    if _LINK.match(finding.link):
        link = f"[{link}]({finding.link})"
    return (
        f"| {state} | {link} | {finding.severity.capitalize()} | {_cell(finding.package)} "
        f"| {_cell(finding.version)} | {_cell(finding.fix_version)} |"
    )


def markdown(diff: VulnDiff) -> str:
    text = headline(diff)
    lines = ["## Since the last release", "", text[:1].upper() + text[1:], ""]
    if diff.status is not DiffStatus.COMPARED:
        return "\n".join(lines)
    rows = [
        *(_row("🆕 new", f) for f in diff.new),
        *(_row("✅ fixed", f) for f in diff.fixed),
        *(_row("remaining", f) for f in diff.remaining),
    ]
    if rows:
        lines += [
            "| | Vulnerability | Severity | Package | Installed | Fixed in |",
            "|---|---|---|---|---|---|",
            *rows[:TABLE_CAP],
        ]
        if len(rows) > TABLE_CAP:
            lines += ["", f"{len(rows) - TABLE_CAP} more rows left out."]
    return "\n".join(lines) + "\n"
