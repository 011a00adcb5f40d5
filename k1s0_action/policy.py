"""The vulnerability policy (rule V2): findings + allowlists + inputs -> one decision (pure).

Harbor's CVE allowlists are honoured as Harbor applies them: a project that reuses the system
allowlist uses that list instead of its own; an expired list allows nothing. `ignore-cves` adds ids
for one run. An allowed finding is counted as allowed, never as blocking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# Most to least severe; Harbor's names, lower-cased.
SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown", "none")
WARN_SEVERITY = "medium"


def normalize_severity(value: str | None) -> str:
    text = (value or "").strip().lower()
    return text if text in SEVERITIES else "unknown"


@dataclass(frozen=True)
class Finding:
    id: str
    package: str
    version: str
    fix_version: str
    severity: str  # one of SEVERITIES
    description: str = ""
    links: tuple[str, ...] = ()
    score: float | None = None

    @property
    def link(self) -> str:
        if self.links:
            return self.links[0]
        if self.id.upper().startswith("CVE-"):
            return f"https://nvd.nist.gov/vuln/detail/{self.id.upper()}"
        return ""


@dataclass(frozen=True)
class Allowlist:
    source: str  # e.g. "project k1s0-system", "system"
    cve_ids: frozenset[str]
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


def effective_allowlist(
    project: Allowlist, system: Allowlist | None, reuse_system: bool
) -> Allowlist:
    """Harbor's rule: a project that reuses the system allowlist ignores its own."""
    if reuse_system and system is not None:
        return system
    return project


class Disposition(StrEnum):
    BLOCKING = "blocking"
    ALLOWED = "allowed"
    WARNING = "warning"
    RECORDED = "recorded"


@dataclass(frozen=True)
class Judged:
    finding: Finding
    disposition: Disposition
    reason: str = ""  # why it is allowed, or why an allowlist did not apply


@dataclass(frozen=True)
class SeverityCount:
    severity: str
    found: int
    allowed: int
    blocking: int


@dataclass(frozen=True)
class PolicyConfig:
    block_severities: frozenset[str]
    ignore_cves: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    judged: tuple[Judged, ...]
    counts: tuple[SeverityCount, ...]
    ignore_cves_used: tuple[str, ...]
    expired_allowlist: Allowlist | None  # set when an expired list would have allowed something

    def _with(self, disposition: Disposition) -> tuple[Judged, ...]:
        return tuple(j for j in self.judged if j.disposition is disposition)

    @property
    def blocking(self) -> tuple[Judged, ...]:
        return self._with(Disposition.BLOCKING)

    @property
    def warnings(self) -> tuple[Judged, ...]:
        return self._with(Disposition.WARNING)

    @property
    def allowed(self) -> tuple[Judged, ...]:
        return self._with(Disposition.ALLOWED)

    @property
    def passed(self) -> bool:
        return not self.blocking

    def found_by_severity(self) -> dict[str, int]:
        return {count.severity: count.found for count in self.counts}


def _rank(judged: Judged) -> tuple[int, str, str]:
    finding = judged.finding
    return (SEVERITIES.index(finding.severity), finding.id, finding.package)


def decide(
    findings: Iterable[Finding],
    allowlist: Allowlist | None,
    config: PolicyConfig,
    now: datetime,
) -> Decision:
    listed = allowlist.cve_ids if allowlist else frozenset()
    active = allowlist is not None and allowlist.active(now)
    ignored = {cve.upper() for cve in config.ignore_cves}
    judged: list[Judged] = []
    used: set[str] = set()
    expired_hit = False
    for finding in findings:
        cve = finding.id.upper()
        disposition, reason = Disposition.RECORDED, ""
        if finding.severity in config.block_severities:
            disposition = Disposition.BLOCKING
        elif finding.severity == WARN_SEVERITY:
            disposition = Disposition.WARNING
        if cve in listed and active and allowlist is not None:
            disposition, reason = Disposition.ALLOWED, f"{allowlist.source} CVE allowlist"
        elif cve in ignored:
            disposition, reason = Disposition.ALLOWED, "ignore-cves input"
            used.add(cve)
        elif cve in listed and allowlist is not None:
            expired_hit = True
            reason = f"{allowlist.source} CVE allowlist expired"
        judged.append(Judged(finding, disposition, reason))
    judged.sort(key=_rank)
    counts = tuple(
        SeverityCount(
            severity=severity,
            found=sum(1 for j in judged if j.finding.severity == severity),
            allowed=sum(
                1
                for j in judged
                if j.finding.severity == severity and j.disposition is Disposition.ALLOWED
            ),
            blocking=sum(
                1
                for j in judged
                if j.finding.severity == severity and j.disposition is Disposition.BLOCKING
            ),
        )
        for severity in SEVERITIES
    )
    return Decision(
        judged=tuple(judged),
        counts=counts,
        ignore_cves_used=tuple(sorted(used)),
        expired_allowlist=allowlist if expired_hit else None,
    )


def warning_lines(decision: Decision, cap: int) -> tuple[str, ...]:
    """One line per warning finding, the first `cap` of them, then a count of the rest."""
    warnings = decision.warnings
    lines = [
        f"{w.finding.severity.capitalize()} {w.finding.id} in {w.finding.package} "
        f"{w.finding.version}"
        + (f" (fixed in {w.finding.fix_version})" if w.finding.fix_version else "")
        for w in warnings[:cap]
    ]
    if len(warnings) > cap:
        lines.append(f"... and {len(warnings) - cap} more medium findings (see the job summary)")
    return tuple(lines)
