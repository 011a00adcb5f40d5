"""The vulnerability policy (rule V2): findings + allowlist + inputs -> one decision (pure).

The semantics are Harbor's own (v2.15.2), so that a digest the gate passes is one Harbor's pull
prevention would also let through:
- severities and their order: `src/pkg/scan/vuln/severity.go` (`Code()`: None = Unknown = 0,
  Negligible 1, Low 2, Medium 3, High 4, Critical 5, anything else 99 "to provide more secure
  protection"). Case is ignored here; any other string is unrecognised and blocks.
- `block-severities` is a threshold: the lowest listed severity blocks itself and everything
  above it.
- allowlists: `src/pkg/allowlist/models/cve_allowlist.go`: ids match exactly (`CVESet.Contains`);
  a list is expired when `expires_at` is set and `now >= expires_at` (`IsExpired()`), so 0 and
  negative values are expired and only a missing/null value never expires.
- which list applies is decided by the caller (`effective_allowlist`, from
  `src/controller/project/controller.go` `loadEffectCVEAllowlists`).

`ignore-cves` adds ids for one run; they match exactly as well. A finding without an id can be
covered by no list. An allowed finding is counted as allowed, never as blocking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

# Most to least severe; Harbor's names, lower-cased. The one definition the package uses.
SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown", "none")
UNRECOGNISED = "unrecognised"
WARN_SEVERITY = "medium"
IGNORE_CVES_REASON = "ignore-cves input"
# Harbor's Severity.Code(); an unrecognised severity ranks above Critical.
_CODE = {"none": 0, "unknown": 0, "negligible": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
UNRECOGNISED_CODE = 99


def harbor_severity(value: object) -> str:
    """Harbor's severity name, lower-cased, or UNRECOGNISED (case-insensitive, nothing else)."""
    if isinstance(value, str) and value.lower() in _CODE:
        return value.lower()
    return UNRECOGNISED


def severity_code(severity: str) -> int:
    return _CODE.get(severity, UNRECOGNISED_CODE)


def threshold(block_severities: Iterable[str]) -> int | None:
    """The lowest code that blocks; None when nothing is listed (then nothing recognised blocks)."""
    given = list(block_severities)
    unknown = [s for s in given if severity_code(s) == UNRECOGNISED_CODE]
    if unknown:
        raise ValueError(f"not a Harbor severity: {unknown[0]!r}")
    return min(severity_code(s) for s in given) if given else None


def blocked_severities(block_severities: Iterable[str]) -> tuple[str, ...]:
    """The severities a `block-severities` list blocks, most severe first (for messages)."""
    lowest = threshold(block_severities)
    return () if lowest is None else tuple(s for s in SEVERITIES if _CODE[s] >= lowest)


@dataclass(frozen=True)
class Finding:
    id: str  # "" when Harbor's report gives none
    package: str
    version: str
    fix_version: str
    severity: str  # one of SEVERITIES, or UNRECOGNISED
    description: str = ""
    links: tuple[str, ...] = ()
    score: float | None = None
    reported_severity: str = ""  # the report's own text, shown when it is unrecognised

    @property
    def link(self) -> str:
        if self.links:
            return self.links[0]
        if self.id.upper().startswith("CVE-"):
            return f"https://nvd.nist.gov/vuln/detail/{self.id.upper()}"
        return ""

    @property
    def label(self) -> str:
        """`id (severity)` for one-line messages."""
        severity = self.severity
        if severity == UNRECOGNISED:
            severity = f"unrecognised severity {self.reported_severity or '(none)'}"
        return f"{self.id or '(no id)'} ({severity})"


@dataclass(frozen=True)
class Allowlist:
    source: str  # e.g. "project k1s0-system", "system"
    cve_ids: frozenset[str]
    expires_at: int | None = None  # Unix seconds as Harbor stores it; None: never expires

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and math.floor(now.timestamp()) >= self.expires_at

    def active(self, now: datetime) -> bool:
        return not self.expired(now)

    def expiry_text(self) -> str:
        if self.expires_at is None:
            return "never"
        try:
            return datetime.fromtimestamp(self.expires_at, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return f"{self.expires_at} (Unix time)"


def effective_allowlist(
    project: Allowlist, system: Allowlist | None, reuse_system: bool
) -> Allowlist | None:
    """Harbor's rule: a project that reuses the system allowlist ignores its own. `system` is
    None when it could not be read; then no list applies (stricter, never looser)."""
    return system if reuse_system else project


class Disposition(StrEnum):
    BLOCKING = "blocking"
    ALLOWED = "allowed"
    WARNING = "warning"
    RECORDED = "recorded"


@dataclass(frozen=True)
class Judged:
    finding: Finding
    disposition: Disposition
    reason: str = ""  # why it is allowed, or why it blocks although it might not have


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

    @property
    def threshold(self) -> int | None:
        return threshold(self.block_severities)


@dataclass(frozen=True)
class Decision:
    judged: tuple[Judged, ...]
    counts: tuple[SeverityCount, ...]
    ignore_cves_used: tuple[str, ...]
    expired_allowlist: Allowlist | None  # set when an expired list would have allowed something
    defects: tuple[str, ...] = ()  # what was wrong with Harbor's answers; any one blocks

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
        return not self.blocking and not self.defects

    def found_by_severity(self) -> dict[str, int]:
        return {count.severity: count.found for count in self.counts}


def _rank(judged: Judged) -> tuple[int, str, str]:
    finding = judged.finding
    return (-severity_code(finding.severity), finding.id, finding.package)


def _judge(
    finding: Finding,
    allowlist: Allowlist | None,
    active: bool,
    config: PolicyConfig,
    lowest: int | None,
) -> tuple[Disposition, str]:
    if finding.severity == UNRECOGNISED:
        return Disposition.BLOCKING, (
            f"severity {finding.reported_severity or '(none)'} is not one of Harbor's"
        )
    disposition = Disposition.RECORDED
    if lowest is not None and severity_code(finding.severity) >= lowest:
        disposition = Disposition.BLOCKING
    elif finding.severity == WARN_SEVERITY:
        disposition = Disposition.WARNING
    if not finding.id:
        reason = "no vulnerability id, so no allowlist can cover it"
        return disposition, reason if disposition is Disposition.BLOCKING else ""
    listed = allowlist is not None and finding.id in allowlist.cve_ids
    if listed and active and allowlist is not None:
        return Disposition.ALLOWED, f"{allowlist.source} CVE allowlist"
    if finding.id in config.ignore_cves:
        return Disposition.ALLOWED, IGNORE_CVES_REASON
    if listed and allowlist is not None:
        return disposition, f"{allowlist.source} CVE allowlist expired"
    return disposition, ""


def decide(
    findings: Iterable[Finding],
    allowlist: Allowlist | None,
    config: PolicyConfig,
    now: datetime,
    defects: Iterable[str] = (),
) -> Decision:
    lowest = config.threshold
    active = allowlist is not None and allowlist.active(now)
    judged: list[Judged] = []
    for finding in findings:
        disposition, reason = _judge(finding, allowlist, active, config, lowest)
        judged.append(Judged(finding, disposition, reason))
    judged.sort(key=_rank)
    used = sorted({j.finding.id for j in judged if j.reason == IGNORE_CVES_REASON})
    expired_hit = any(j.reason.endswith("CVE allowlist expired") for j in judged)
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
        ignore_cves_used=tuple(used),
        expired_allowlist=allowlist if expired_hit else None,
        defects=tuple(defects),
    )


def warning_lines(decision: Decision, cap: int) -> tuple[str, ...]:
    """One line per warning finding, the first `cap` of them, then a count of the rest."""
    warnings = decision.warnings
    lines = [
        f"{w.finding.severity.capitalize()} {w.finding.id or '(no id)'} in {w.finding.package} "
        f"{w.finding.version}"
        + (f" (fixed in {w.finding.fix_version})" if w.finding.fix_version else "")
        for w in warnings[:cap]
    ]
    if len(warnings) > cap:
        lines.append(f"... and {len(warnings) - cap} more medium findings (see the job summary)")
    return tuple(lines)
