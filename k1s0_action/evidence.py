"""What Harbor says about one digest's scan, and where its two answers disagree (pure).

Harbor answers twice: the artifact's scan overview (status, overall severity, counts per
severity, total) and the report (the findings). Both are keyed by report MIME type; Trivy writes
under the 1.1 key, a scanner speaking only Harbor's native format under the 1.0 key, and both
are read. The overview is computed by Harbor from the report
(`src/pkg/scan/vuln/report.go`, `GetSeveritySummary`: total = items after de-duplication by
id-package-version, severity = the highest `Code()`, starting from None), so any disagreement
means one of them is not what it claims to be, and the gate fails closed on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from k1s0_action.policy import Finding, severity_code

REPORT_MIME = "application/vnd.security.vulnerability.report; version=1.1"
NATIVE_MIME = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
REPORT_MIMES = (REPORT_MIME, NATIVE_MIME)


@dataclass(frozen=True)
class OverviewClaim:
    """One MIME type's entry of a scan overview, as far as it makes claims about the report."""

    mime: str
    status: str
    severity: str | None = None  # policy severity (or UNRECOGNISED); None: no claim made
    total: int | None = None  # None: summary or total missing/null
    counts: tuple[tuple[str, int], ...] | None = None  # per policy severity; None: no claim
    problems: tuple[str, ...] = ()  # values that are not what Harbor's spec says


@dataclass(frozen=True)
class Report:
    mime: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Reports:
    reports: tuple[Report, ...]
    problems: tuple[str, ...] = ()

    def get(self, mime: str) -> Report | None:
        return next((r for r in self.reports if r.mime == mime), None)

    def findings(self) -> tuple[Finding, ...]:
        """The union of every report's findings (one copy of a finding present in both)."""
        return tuple(dict.fromkeys(f for r in self.reports for f in r.findings))


def _short(mime: str) -> str:
    return "1.1" if mime == REPORT_MIME else "1.0" if mime == NATIVE_MIME else mime


def _items(findings: Iterable[Finding]) -> list[Finding]:
    """Harbor's de-duplication (`VulnerabilityItem.Key()`: id-package-version), first wins."""
    seen: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.id, finding.package, finding.version), finding)
    return list(seen.values())


def _count_text(counts: Counter[str]) -> str:
    return ", ".join(f"{s} {n}" for s, n in sorted(counts.items())) or "none"


def contradictions(claims: Sequence[OverviewClaim], reports: Reports) -> tuple[str, ...]:
    """Every way the Success overviews and the reports disagree, one line each."""
    found: list[str] = list(reports.problems)
    for claim in claims:
        where = f"scan overview ({_short(claim.mime)})"
        found += [f"{where}: {problem}" for problem in claim.problems]
        report = reports.get(claim.mime)
        items = _items(report.findings if report else ())
        listed = f"the report ({_short(claim.mime)}) lists {len(items)}"
        highest = max((severity_code(f.severity) for f in items), default=0)
        if claim.severity is not None and severity_code(claim.severity) != highest:
            top = max(items, key=lambda f: severity_code(f.severity)).severity if items else "none"
            found.append(
                f"{where} says the highest severity is {claim.severity}, but the report's "
                f"highest is {top}"
            )
        if claim.total is not None and claim.total != len(items):
            found.append(f"{where} counts {claim.total} vulnerabilities, {listed}")
        if claim.counts is not None:
            claimed = Counter({s: n for s, n in claim.counts if n})
            actual = Counter(f.severity for f in items)
            if claimed != actual:
                found.append(
                    f"{where} counts {_count_text(claimed)} by severity, but "
                    f"the report has {_count_text(actual)}"
                )
    return tuple(found)
