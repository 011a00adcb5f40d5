"""How Harbor serves a scan: the `scan_overview` of an artifact and the `additions/
vulnerabilities` report, per accepted MIME type and per imitated Harbor (settings.Mimic).

From the v2.15.2 captures and source: an overview exists once a scan was requested (Pending:
start and end at Go's zero time; Running: start set; Error/Stopped: duration and end; Success:
plus complete_percent, scanner, severity, summary); a never-scanned artifact has none. The report
endpoint answers `{}` unless the last scan succeeded; a clean image's report has `"severity": ""`
and `"vulnerabilities": []` (src/pkg/scan/vuln/report.go: severity, status, preferred_cvss,
cwe_ids and vendor_attributes are never omitted)."""

from __future__ import annotations

import copy
from typing import Any

from k1s0_stack.harbor.records import Scan
from k1s0_stack.harbor.settings import Mimic
from k1s0_stack.harbor.store import ZERO_TIME
from k1s0_stack.trivy import REPORT_MIME, SCANNER, summary

NATIVE_MIME = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
DEFAULT_ACCEPT = f"{REPORT_MIME}, {NATIVE_MIME}"


def accepted_mimes(header: str | None) -> list[str]:
    return [part.strip() for part in (header or DEFAULT_ACCEPT).split(",") if part.strip()]


def served_mime(accept: str | None, mimic: Mimic) -> str | None:
    """The one MIME type the scanner's report is kept under, if the client accepts it."""
    mime = NATIVE_MIME if mimic.native_report_only else REPORT_MIME
    return mime if mime in accepted_mimes(accept) else None


def scan_overview(scan: Scan | None, accept: str | None, mimic: Mimic) -> dict[str, Any] | None:
    """Harbor's scan_overview, or None while no scan was requested, is only queued, or was
    refused at submission ("Refused": Harbor keeps the report row, so the artifact links to its
    vulnerabilities, but shows no overview)."""
    mime = served_mime(accept, mimic)
    if not scan or scan.get("status") in (None, "Queued", "Refused") or mime is None:
        return None
    overview: dict[str, Any] = {
        "report_id": scan["report_id"],
        "scan_status": scan["status"],
        "start_time": scan.get("start_time") or ZERO_TIME,
        "end_time": scan.get("end_time") or ZERO_TIME,
    }
    if scan.get("complete_percent") and scan["status"] == "Success":
        overview["complete_percent"] = scan["complete_percent"]
    if scan.get("duration"):
        overview["duration"] = scan["duration"]
    report = scan.get("report")
    if scan["status"] == "Success" and report is not None:
        overview["severity"] = report["severity"]
        overview["summary"] = summary(report)
        overview["scanner"] = dict(SCANNER)
    return {mime: overview}


def vulnerabilities(scan: Scan | None, accept: str | None, mimic: Mimic) -> dict[str, Any]:
    """The body of additions/vulnerabilities: `{}` unless the last scan succeeded."""
    mime = served_mime(accept, mimic)
    report = (scan or {}).get("report")
    if mime is None or not scan or scan.get("status") != "Success" or report is None:
        return {}
    served = copy.deepcopy(report)
    findings = served.get("vulnerabilities") or []
    if not findings:
        served["severity"] = ""
    if not mimic.finding_status:
        for finding in findings:
            finding.pop("status", None)
    served["vulnerabilities"] = findings or (None if mimic.null_empty_vulnerabilities else [])
    return {mime: served}
