"""The scan gate's report: job-summary Markdown and SARIF 2.1.0 (pure rendering)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from k1s0_action.policy import UNRECOGNISED, Decision, Disposition, Judged

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TABLE_CAP = 50
# GitHub code scanning ranks security results by this CVSS-like number.
_SECURITY_SEVERITY = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 2.0}
_SARIF_LEVEL = {
    Disposition.BLOCKING: "error",
    Disposition.WARNING: "warning",
    Disposition.RECORDED: "note",
    Disposition.ALLOWED: "note",
}


class Verdict(StrEnum):
    PASSED = "passed"
    BLOCKED = "blocked"
    INCOMPLETE = "incomplete"  # the scan did not finish and on-scan-error is warn


@dataclass(frozen=True)
class ScanReport:
    image: str
    digest: str
    scan_status: str
    verdict: Verdict
    decision: Decision | None
    artifact_url: str
    promoted: tuple[str, ...] = ()
    withheld: tuple[tuple[str, str], ...] = ()  # (tag, reason)
    note: str = ""


def artifact_url(harbor_url: str, project_id: int, repository: str, digest: str) -> str:
    """The artifact's page in Harbor's UI (the UI encodes a nested repository name once)."""
    return (
        f"{harbor_url.rstrip('/')}/harbor/projects/{project_id}/repositories/"
        f"{quote(repository, safe='')}/artifacts-tab/artifacts/{digest}"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "-"


def _finding_row(judged: Judged) -> str:
    f = judged.finding
    link = f"[{_cell(f.id)}]({f.link})" if f.link else _cell(f.id)
    severity = f.severity.capitalize()
    if f.reported_severity and f.severity == UNRECOGNISED:
        severity = f"{severity} ({_cell(f.reported_severity)})"
    return (
        f"| {link} | {_cell(f.package)} | {_cell(f.version)} | {_cell(f.fix_version)} "
        f"| {severity} | {judged.disposition.value} |"
    )


_ICON = {Verdict.PASSED: "✅", Verdict.BLOCKED: "⛔", Verdict.INCOMPLETE: "⚠️"}
_LABEL = {Verdict.INCOMPLETE: "scan incomplete"}


def markdown(report: ScanReport) -> str:
    lines = [
        "## Harbor scan gate",
        "",
        f"**{_ICON.get(report.verdict, '')} {_LABEL.get(report.verdict, report.verdict)}** "
        "(scan status: "
        f"{report.scan_status or 'none'})",
        "",
    ]
    if report.note:
        lines += [report.note, ""]
    lines += [
        "| | |",
        "|---|---|",
        f"| Image | `{report.image}@{report.digest}` |",
        f"| Harbor | [artifact]({report.artifact_url}) |",
        f"| Promoted | {', '.join(f'`{t}`' for t in report.promoted) or 'nothing'} |",
    ]
    for tag, reason in report.withheld:
        lines.append(f"| Not promoted | `{tag}`: {_cell(reason)} |")
    decision = report.decision
    if decision is None:
        return "\n".join(lines) + "\n"
    lines += ["", "| Severity | Found | Allowed | Blocking |", "|---|---:|---:|---:|"]
    for count in decision.counts:
        if count.found or count.severity in ("critical", "high", "medium", "low"):
            lines.append(
                f"| {count.severity.capitalize()} | {count.found} | {count.allowed} "
                f"| {count.blocking} |"
            )
    for cve in decision.ignore_cves_used:
        lines.append(f"\n> `{cve}` allowed for this run by the `ignore-cves` input.")
    if decision.expired_allowlist is not None:
        expired = decision.expired_allowlist
        lines.append(
            f"\n> The {expired.source} CVE allowlist expired at {expired.expiry_text()}; its "
            "entries were not applied."
        )
    for defect in decision.defects:
        lines.append(f"\n> Failing closed: {_cell(defect)}")
    shown = [*decision.blocking, *decision.warnings]
    if shown:
        lines += [
            "",
            "| Vulnerability | Package | Installed | Fixed in | Severity | Status |",
            "|---|---|---|---|---|---|",
        ]
        lines += [_finding_row(j) for j in shown[:TABLE_CAP]]
        if len(shown) > TABLE_CAP:
            lines.append(f"\n{len(shown) - TABLE_CAP} more in the SARIF report.")
    allowed = decision.allowed
    if allowed:
        lines += ["", "Allowed: " + ", ".join(f"`{j.finding.id}` ({j.reason})" for j in allowed)]
    return "\n".join(lines) + "\n"


def sarif(report: ScanReport, location: str) -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning; `location` is the Dockerfile, workspace-relative."""
    decision = report.decision
    judged = decision.judged if decision else ()
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for j in judged:
        f = j.finding
        rules.setdefault(
            f.id,
            {
                "id": f.id,
                "name": f.id,
                "shortDescription": {"text": f"{f.id} ({f.severity})"},
                "fullDescription": {"text": f.description or f.id},
                **({"helpUri": f.link} if f.link else {}),
                "help": {"text": f.description or f.id},
                "properties": {
                    "tags": ["security", "vulnerability", f.severity],
                    "security-severity": str(
                        f.score if f.score is not None else _SECURITY_SEVERITY.get(f.severity, 0.0)
                    ),
                },
            },
        )
        result: dict[str, Any] = {
            "ruleId": f.id,
            "level": _SARIF_LEVEL[j.disposition],
            "message": {
                "text": f"{f.id} in {f.package} {f.version} ({f.severity}, {j.disposition.value})"
                + (f"; fixed in {f.fix_version}" if f.fix_version else "")
                + f"; image {report.image}@{report.digest}"
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": location},
                        "region": {"startLine": 1},
                    }
                }
            ],
            "partialFingerprints": {"vulnerability": f"{f.id}/{f.package}/{f.version}"},
            "properties": {
                "package": f.package,
                "installedVersion": f.version,
                "fixedVersion": f.fix_version,
                "severity": f.severity,
                "disposition": j.disposition.value,
            },
        }
        if j.disposition is Disposition.ALLOWED:
            result["suppressions"] = [{"kind": "external", "justification": j.reason}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Trivy via Harbor",
                        "informationUri": "https://goharbor.io/",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "properties": {
                    "image": report.image,
                    "digest": report.digest,
                    "scanStatus": report.scan_status,
                    "verdict": report.verdict,
                    "harborArtifact": report.artifact_url,
                },
            }
        ],
    }
