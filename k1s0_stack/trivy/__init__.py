"""Real Trivy, run the way Harbor's Trivy adapter (goharbor/harbor-scanner-trivy) runs it, and the
conversion of its JSON to the vulnerability report Harbor serves.

Offline (the default) Trivy reads the project's fixture database, built by `scripts/trivy-db.sh`
from `fixture-db.json`. Set `K1S0_TRIVY_DB=online` (or pass `db="online"`) on a machine with
network access to let Trivy download and use its normal database instead. Any other value is a
Trivy cache directory (`<dir>/db/trivy.db`), read afresh by every scan: a test can swap the
database under a running server (`fixture_cache_dir(other_fixture)` builds a variant).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from k1s0_stack.process import CACHE, tool

HERE = Path(__file__).resolve().parent
FIXTURE_DB = HERE / "fixture-db.json"
TRIVY_VERSION = "v0.74.0"  # keep in step with scripts/go-tools.sh
REPORT_MIME = "application/vnd.security.vulnerability.report; version=1.1"
SCANNER = {"name": "Trivy", "vendor": "Aqua Security", "version": TRIVY_VERSION}
# Harbor's severity names, lowest first; "None" is the overall severity of a clean image.
SEVERITIES = ("None", "Unknown", "Negligible", "Low", "Medium", "High", "Critical")
_FROM_TRIVY = {
    "CRITICAL": "Critical",
    "HIGH": "High",
    "MEDIUM": "Medium",
    "LOW": "Low",
    "UNKNOWN": "Unknown",
}


class ScanError(RuntimeError):
    """Trivy could not scan the image; the message carries Trivy's output."""


@dataclass(frozen=True)
class ImageRef:
    """An image by digest in a registry, with the credentials Trivy pulls it with."""

    registry: str  # host:port
    repository: str
    digest: str
    username: str
    password: str
    non_ssl: bool = True

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


def fixture_cache_dir(fixture: Path = FIXTURE_DB) -> Path:
    """Trivy's --cache-dir with the fixture DB (db/trivy.db, db/metadata.json); built once per
    fixture file content (`fixture` defaults to the project's)."""
    builder = HERE / "dbbuilder"
    digest = hashlib.sha256()
    for part in (fixture, builder / "main.go", builder / "go.mod"):
        digest.update(part.read_bytes())
    cache_dir = CACHE / "trivy-db" / digest.hexdigest()[:16]
    if not (cache_dir / "db" / "trivy.db").exists():
        script = HERE.parent.parent / "scripts" / "trivy-db.sh"
        out = subprocess.run(
            [str(script), str(fixture)], check=True, capture_output=True, text=True
        ).stdout
        cache_dir = Path(out.strip().splitlines()[-1])
    return cache_dir


def scan_args(
    image: ImageRef, output: Path, cache_dir: Path, offline: bool, output_format: str = "json"
) -> list[str]:
    """Trivy's command line as the adapter builds it (pkg/trivy/wrapper.go), plus two local
    choices: the image only from the registry (the adapter has no Docker daemon either) and an
    in-memory layer cache so that parallel scans do not contend for one bbolt file."""
    args = [
        tool("trivy"),
        "image",
        "--no-progress",
        "--severity",
        "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL",
        "--pkg-types",
        "os,library",
        "--format",
        output_format,
        "--output",
        str(output),
        "--cache-dir",
        str(cache_dir),
        "--timeout",
        "5m0s",
        "--scanners",
        "vuln",
        "--image-src",
        "remote",
        "--cache-backend",
        "memory",
    ]
    if output_format != "json":
        # An SBOM (spdx-json, cyclonedx) lists packages; Trivy then scans for nothing.
        for flag in ("--scanners", "--severity"):
            at = args.index(flag)
            del args[at : at + 2]
    if offline:
        args += ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]
    if image.non_ssl:
        args.append("--insecure")
    args.append(image.name)
    return args


def run_trivy(
    image: ImageRef, db: str | None = None, timeout: float = 600.0, output_format: str = "json"
) -> dict[str, Any]:
    """Scans `image` with real Trivy and returns its JSON report (schema 2), or with
    `output_format` spdx-json / cyclonedx its SBOM."""
    db = db or os.environ.get("K1S0_TRIVY_DB", "fixture")
    offline = db != "online"
    cache_dir = (
        CACHE / "trivy-online"
        if not offline
        else fixture_cache_dir()
        if db == "fixture"
        else Path(db)
    )
    env = {
        **os.environ,
        "TRIVY_USERNAME": image.username,
        "TRIVY_PASSWORD": image.password,
    }
    with tempfile.TemporaryDirectory(prefix="k1s0-trivy-") as tmp:
        output = Path(tmp) / "report.json"
        try:
            done = subprocess.run(
                scan_args(image, output, cache_dir, offline, output_format),
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ScanError(f"trivy did not finish in {timeout:.0f}s") from exc
        if done.returncode != 0 or not output.exists():
            tail = (done.stdout + done.stderr)[-2000:]
            raise ScanError(f"trivy exited with {done.returncode}: {tail}")
        report: dict[str, Any] = json.loads(output.read_text())
    if output_format == "json" and report.get("SchemaVersion") != 2:
        raise ScanError(f"unsupported Trivy report schema {report.get('SchemaVersion')}")
    return report


def harbor_report(
    trivy_report: Mapping[str, Any], digest: str, now: datetime | None = None
) -> dict[str, Any]:
    """Harbor's stored report (what `additions/vulnerabilities` serves under REPORT_MIME): the
    adapter's transformation of Trivy's findings plus the fields Harbor core adds."""
    findings: list[dict[str, Any]] = []
    for result in trivy_report.get("Results") or []:
        for vuln in result.get("Vulnerabilities") or []:
            findings.append(_finding(vuln, digest))
    return {
        "generated_at": _timestamp(now or datetime.now(UTC)),
        "scanner": dict(SCANNER),
        "severity": highest_severity(f["severity"] for f in findings),
        "vulnerabilities": findings,
    }


def _finding(vuln: Mapping[str, Any], digest: str) -> dict[str, Any]:
    primary = vuln.get("PrimaryURL") or ""
    links = [primary] if primary else list(vuln.get("References") or [])
    cvss: Mapping[str, Mapping[str, Any]] = vuln.get("CVSS") or {}
    finding: dict[str, Any] = {
        "id": vuln["VulnerabilityID"],
        "package": vuln.get("PkgName", ""),
        "version": vuln.get("InstalledVersion", ""),
        "fix_version": vuln.get("FixedVersion", ""),
        "severity": _FROM_TRIVY.get(vuln.get("Severity", ""), "Unknown"),
        "status": vuln.get("Status", ""),
        "description": vuln.get("Description", ""),
        "links": links,
        "artifact_digests": [digest],
        # The adapter (harbor-scanner-trivy pkg/scan/transformer.go) sends no preferred_cvss,
        # only vendor_attributes {"CVSS": ...} when Trivy has CVSS data; Harbor core
        # (src/pkg/scan/postprocessors/report_converters.go) then takes score_v3 from the NVD
        # V3Score, else any vendor's, else 0, and leaves the vectors "" and score_v2 null.
        "preferred_cvss": {
            "score_v3": _v3_score(cvss) if cvss else None,
            "score_v2": None,
            "vector_v3": "",
            "vector_v2": "",
        },
        # Harbor stores CWE ids comma-joined, so an empty list comes back as [""].
        "cwe_ids": list(vuln.get("CweIDs") or [""]),
        # Stored as JSON text; an empty one unmarshals to null.
        "vendor_attributes": {"CVSS": dict(cvss)} if cvss else None,
    }
    return finding


def _v3_score(cvss: Mapping[str, Mapping[str, Any]]) -> float:
    """parseScoreFromVendorAttribute: NVD's V3Score first, then the first vendor with one."""
    for vendor in ("nvd", *cvss):
        score = (cvss.get(vendor) or {}).get("V3Score")
        if score is not None:
            return float(score)
    return 0.0


def highest_severity(severities: Sequence[str] | Any) -> str:
    highest = "None"
    for severity in severities:
        if SEVERITIES.index(severity) > SEVERITIES.index(highest):
            highest = severity
    return highest


def summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The `summary` of a scan overview: totals and counts only for severities that occur."""
    counts: dict[str, int] = {}
    fixable = 0
    for finding in report.get("vulnerabilities") or []:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
        fixable += 1 if finding.get("fix_version") else 0
    return {"total": sum(counts.values()), "fixable": fixable, "summary": counts}


def _timestamp(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )
