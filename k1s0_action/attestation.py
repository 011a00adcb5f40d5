"""The gate's scan as cosign's vulnerability predicate, and the checks on one read back (pure).

The predicate is cosign's `CosignVulnPredicate` (predicate type
`https://cosign.sigstore.dev/attestation/vuln/v1`, sigstore/cosign
`pkg/cosign/attestation/attestation.go`): `invocation` {parameters, uri, event_id, builder.id},
`scanner` {uri, version, db {uri, version}, result}, `metadata` {scanStartedOn, scanFinishedOn}
(RFC 3339, which Go's `time.Time` insists on). cosign publishes no JSON schema for it; the test
schema in tests/stack/contract/ is that struct, written down.

What goes in:
- `scanner`: Trivy as Harbor names it in its report (name, version), the database when Harbor's
  report or scanner says which one; `result` holds Harbor's report entries unchanged (`reports`,
  per MIME type, with Harbor's `generated_at` and `scanner`), the findings flattened from them
  (`findings`, Harbor's items as they came) and the gate's decision (`gate`).
- `invocation.parameters`: what the gate was asked (block-severities, ignore-cves) — the inputs.
- `metadata`: Harbor's scan start and end times from the scan overview.

A deploy pipeline or Kyverno can then check, from the signed predicate alone, that no finding at
or above the threshold is outside `gate.allowed` and that the scan is recent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from k1s0_action.policy import SEVERITIES, Decision, blocked_severities

VULN_PREDICATE_TYPE = "https://cosign.sigstore.dev/attestation/vuln/v1"
SPDX_PREDICATE_TYPE = "https://spdx.dev/Document"
CYCLONEDX_PREDICATE_TYPE = "https://cyclonedx.org/bom"
# cosign attest --type values, and the predicate type cosign gives each.
ATTESTATION_TYPES = {
    "vuln": VULN_PREDICATE_TYPE,
    "spdxjson": SPDX_PREDICATE_TYPE,
    "cyclonedx": CYCLONEDX_PREDICATE_TYPE,
}
BUILDER_ID = "https://github.com/k1s0-org/k1s0-image-action"
TRIVY_URI = "pkg:github/aquasecurity/trivy"
TRIVY_DB_URI = "pkg:github/aquasecurity/trivy-db"
# Harbor's Trivy adapter names its database's age in the scanner metadata under this key.
DB_UPDATED_KEY = "harbor.scanner-adapter/vulnerability-database-updated-at"


@dataclass(frozen=True)
class Scanner:
    name: str
    vendor: str
    version: str


@dataclass(frozen=True)
class ScanEvidence:
    """What Harbor said about the scan the gate judged: its report body and the overview's times."""

    reports: tuple[tuple[str, Mapping[str, Any]], ...]  # (MIME type, Harbor's report entry)
    started: datetime
    finished: datetime
    db_version: str = ""


@dataclass(frozen=True)
class RunIdentity:
    """Where the attestation was made: the workflow run's URL and id."""

    uri: str
    event_id: str


@dataclass(frozen=True)
class GateRecord:
    """The gate's decision as it goes into the predicate."""

    verdict: str
    block_severities: tuple[str, ...]
    ignore_cves: tuple[str, ...]
    decision: Decision


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scanner_of(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> Scanner:
    for _, entry in reports:
        given = entry.get("scanner")
        if isinstance(given, Mapping):
            return Scanner(
                name=str(given.get("name") or ""),
                vendor=str(given.get("vendor") or ""),
                version=str(given.get("version") or ""),
            )
    return Scanner("", "", "")


def harbor_findings(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    """Harbor's items as they came, one copy of an item both MIME types list."""
    seen: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for _, entry in reports:
        items = entry.get("vulnerabilities")
        for item in items if isinstance(items, list) else []:
            if isinstance(item, Mapping):
                key = (str(item.get("id")), str(item.get("package")), str(item.get("version")))
                seen.setdefault(key, item)
    return list(seen.values())


def gate_result(record: GateRecord) -> dict[str, Any]:
    decision = record.decision
    return {
        "verdict": record.verdict,
        # Harbor's spelling, so a policy compares them with the findings' severities directly.
        "blockedSeverities": [s.capitalize() for s in blocked_severities(record.block_severities)],
        "ignoreCvesUsed": list(decision.ignore_cves_used),
        "allowed": sorted({j.finding.id for j in decision.allowed}),
        "allowlistEntriesUsed": [
            {"id": j.finding.id, "package": j.finding.package, "reason": j.reason}
            for j in decision.allowed
        ],
        "blocking": [j.finding.id for j in decision.blocking],
        "counts": {
            c.severity: {"found": c.found, "allowed": c.allowed, "blocking": c.blocking}
            for c in decision.counts
            if c.found
        },
    }


def vuln_predicate(evidence: ScanEvidence, record: GateRecord, run: RunIdentity) -> dict[str, Any]:
    scanner = scanner_of(evidence.reports)
    trivy = scanner.name.lower() == "trivy"
    return {
        "invocation": {
            "parameters": {
                "block-severities": list(record.block_severities),
                "ignore-cves": list(record.ignore_cves),
            },
            "uri": run.uri,
            "event_id": run.event_id,
            "builder.id": BUILDER_ID,
        },
        "scanner": {
            "uri": TRIVY_URI if trivy else scanner.name,
            "version": scanner.version,
            "db": {"uri": TRIVY_DB_URI if trivy else "", "version": evidence.db_version},
            "result": {
                "scanner": {
                    "name": scanner.name,
                    "vendor": scanner.vendor,
                    "version": scanner.version,
                },
                "reports": {mime: dict(entry) for mime, entry in evidence.reports},
                "findings": harbor_findings(evidence.reports),
                "gate": gate_result(record),
            },
        },
        "metadata": {
            "scanStartedOn": rfc3339(evidence.started),
            "scanFinishedOn": rfc3339(evidence.finished),
        },
    }


# -- checks on a predicate read back from a verified attestation --------------------------------

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> timedelta:
    found = _DURATION.match(text.strip().lower())
    if not found or int(found.group(1)) <= 0:
        raise ValueError(f"'{text}' is not an age; use a number and s, m, h, d or w (7d)")
    return timedelta(seconds=int(found.group(1)) * _UNIT[found.group(2)])


def parse_rfc3339(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def vuln_problems(
    predicate: Mapping[str, Any], now: datetime, max_age: timedelta | None
) -> tuple[str, ...]:
    """Why a verified vuln predicate does not vouch for the image now; empty when it does."""
    problems: list[str] = []
    metadata = predicate.get("metadata")
    finished = (
        parse_rfc3339(metadata.get("scanFinishedOn")) if isinstance(metadata, Mapping) else None
    )
    if finished is None:
        problems.append("the predicate has no scan finish time (metadata.scanFinishedOn)")
    elif max_age is not None and now - finished > max_age:
        problems.append(
            f"the scan finished at {rfc3339(finished)}, {_days(now - finished)} ago, older than "
            f"the allowed {_days(max_age)}; rescan the image (k1s0-image rescan) and re-attest"
        )
    scanner = predicate.get("scanner")
    result = scanner.get("result") if isinstance(scanner, Mapping) else None
    gate = result.get("gate") if isinstance(result, Mapping) else None
    findings = result.get("findings") if isinstance(result, Mapping) else None
    if not isinstance(gate, Mapping) or not isinstance(findings, list):
        problems.append("the predicate has no gate decision or findings (scanner.result)")
        return tuple(problems)
    blocked = {str(s).lower() for s in gate.get("blockedSeverities") or []}
    allowed = {str(s) for s in gate.get("allowed") or []}
    outside = sorted(
        str(item.get("id"))
        for item in findings
        if isinstance(item, Mapping)
        and _blocks(str(item.get("severity", "")), blocked)
        and str(item.get("id")) not in allowed
    )
    if outside:
        problems.append(
            f"the recorded scan lists {len(outside)} findings at or above the threshold outside "
            f"the recorded allowlist: {', '.join(outside[:5])}"
        )
    return tuple(problems)


def _blocks(severity: str, blocked: set[str]) -> bool:
    name = severity.lower()
    if name not in SEVERITIES:
        return True  # as the gate: a severity Harbor does not define blocks
    return name in blocked


def _days(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds}s"
