"""LocalHarbor's switches for what other Harbor versions and scanners send (settings.Mimic), and
the report endpoint's answers around a scan (checked against the swagger like every exchange)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.harbor.reports import NATIVE_MIME
from k1s0_stack.harbor.settings import Mimic
from k1s0_stack.testimages import push_raw_image
from k1s0_stack.trivy import REPORT_MIME, harbor_report

pytestmark = pytest.mark.integration

FINDING = {
    "VulnerabilityID": "CVE-2099-10001",
    "PkgName": "musl",
    "InstalledVersion": "1.0",
    "FixedVersion": "1.1",
    "Severity": "CRITICAL",
    "Status": "fixed",
    "CVSS": {"redhat": {"V2Score": 5.0}},  # CVSS data without any v3 score
}


@pytest.fixture
def spare(tmp_path: Path) -> Iterator[LocalHarbor]:
    started = LocalHarbor(tmp_path / "harbor", validate=True).start()
    started.create_project("mimic")
    yield started
    violations = started.contract_violations()
    started.stop()
    assert violations == []


def artifact(harbor: LocalHarbor, digest: str, suffix: str = "", **params: str) -> Any:
    url = f"{harbor.api}/projects/mimic/repositories/app/artifacts/{digest}{suffix}"
    return requests.get(url, params=params, auth=harbor.admin, timeout=10).json()


def test_report_and_overview_around_a_scan(spare: LocalHarbor) -> None:
    digest = push_raw_image(spare.url, "mimic/app", "1", spare.admin)
    never = artifact(spare, digest, with_scan_overview="true")
    assert "scan_overview" not in never  # never scanned: no key at all
    assert set(never["addition_links"]) == {"build_history"}
    assert artifact(spare, digest, "/additions/vulnerabilities") == {}
    spare.set_scan_state("mimic/app", digest, "Error")
    assert artifact(spare, digest, "/additions/vulnerabilities") == {}
    spare.set_scan_state("mimic/app", digest, "Pending")
    pending = artifact(spare, digest, with_scan_overview="true")["scan_overview"][REPORT_MIME]
    assert pending["start_time"] == pending["end_time"] == "0001-01-01T00:00:00.000Z"
    spare.set_scan_state("mimic/app", digest, "Success", harbor_report({"Results": []}, digest))
    clean = artifact(spare, digest, "/additions/vulnerabilities")[REPORT_MIME]
    assert clean["severity"] == "" and clean["vulnerabilities"] == []


def test_findings_as_harbor_core_serves_them(spare: LocalHarbor) -> None:
    digest = push_raw_image(spare.url, "mimic/app", "1", spare.admin)
    report = harbor_report({"Results": [{"Vulnerabilities": [FINDING]}]}, digest)
    spare.set_scan_state("mimic/app", digest, "Success", report)
    finding = artifact(spare, digest, "/additions/vulnerabilities")[REPORT_MIME]["vulnerabilities"][
        0
    ]
    assert finding["status"] == "fixed"  # Harbor >= 2.14
    # report_converters.go: CVSS data without a v3 score gives score_v3 0; vectors stay "".
    assert finding["preferred_cvss"] == {
        "score_v3": 0.0,
        "score_v2": None,
        "vector_v3": "",
        "vector_v2": "",
    }
    assert finding["cwe_ids"] == [""]

    spare.mimic = Mimic(finding_status=False)  # Harbor <= 2.13
    older = artifact(spare, digest, "/additions/vulnerabilities")[REPORT_MIME]
    assert "status" not in older["vulnerabilities"][0]


def test_native_report_only_and_null_vulnerabilities(spare: LocalHarbor) -> None:
    digest = push_raw_image(spare.url, "mimic/app", "1", spare.admin)
    spare.set_scan_state("mimic/app", digest, "Success", harbor_report({"Results": []}, digest))
    requests.post(
        f"{spare.url}/_k1s0/mimic",
        json={"native_report_only": True, "null_empty_vulnerabilities": True},
        auth=spare.admin,
        timeout=10,
    ).raise_for_status()
    report = artifact(spare, digest, "/additions/vulnerabilities")
    assert list(report) == [NATIVE_MIME] and report[NATIVE_MIME]["vulnerabilities"] is None
    overview = artifact(spare, digest, with_scan_overview="true")["scan_overview"]
    assert list(overview) == [NATIVE_MIME]
    only_v11 = requests.get(
        f"{spare.api}/projects/mimic/repositories/app/artifacts/{digest}/additions/vulnerabilities",
        headers={"X-Accept-Vulnerabilities": REPORT_MIME},
        auth=spare.admin,
        timeout=10,
    ).json()
    assert only_v11 == {}


def test_an_unreachable_scanner_refuses_the_scan_request(spare: LocalHarbor) -> None:
    digest = push_raw_image(spare.url, "mimic/app", "1", spare.admin)
    spare.set_scan_behaviour(None, outcome="unreachable")
    refused = requests.post(
        f"{spare.api}/projects/mimic/repositories/app/artifacts/{digest}/scan",
        json={},
        auth=spare.admin,
        timeout=10,
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"].startswith(
        "the configured scanner Trivy does not support scanning artifact with mime type "
    )
    # Harbor keeps the report row: links to the report, no overview, an empty report.
    after = artifact(spare, digest, with_scan_overview="true")
    assert "scan_overview" not in after and "vulnerabilities" in after["addition_links"]
    assert artifact(spare, digest, "/additions/vulnerabilities") == {}
