"""Real Trivy scans through LocalHarbor: pushed test images get reports whose findings are exactly
the fixture database's advisories for their packages; state survives a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.testimages import FIXTURE_CVES, FIXTURE_SEVERITY, KINDS, build_test_image, untag
from k1s0_stack.trivy import REPORT_MIME

pytestmark = pytest.mark.integration


def push(docker_api: Any, repository: str, tag: str, robot: Robot) -> None:
    auth = {"username": robot.name, "password": robot.secret}
    lines = docker_api.push(repository, tag=tag, auth_config=auth, stream=True, decode=True)
    errors = [line["error"] for line in lines if "error" in line]
    assert errors == []


def scanned(harbor: LocalHarbor, project: str, repo: str, tag: str, robot: Robot) -> dict[str, Any]:
    encoded = quote(quote(repo, safe=""), safe="")
    url = f"{harbor.api}/projects/{project}/repositories/{encoded}/artifacts/{tag}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        artifact = requests.get(
            url, params={"with_scan_overview": "true"}, auth=(robot.name, robot.secret), timeout=10
        ).json()
        overview = (artifact.get("scan_overview") or {}).get(REPORT_MIME) or {}
        if overview.get("scan_status") in ("Success", "Error"):
            report = requests.get(
                f"{url}/additions/vulnerabilities", auth=(robot.name, robot.secret), timeout=10
            )
            return {"overview": overview, "report": report.json().get(REPORT_MIME)}
        time.sleep(0.2)
    raise AssertionError(f"the scan of {project}/{repo}:{tag} did not finish")


@pytest.mark.parametrize("kind", KINDS)
def test_scan_reports_the_fixture_findings(
    docker_api: Any, harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, kind: str
) -> None:
    repository = f"{harbor.registry_host}/{harbor_project}/scan/{kind}"
    build_test_image(docker_api, kind, f"{repository}:1")
    try:
        push(docker_api, repository, "1", harbor_robot)
    finally:
        untag(docker_api, f"{repository}:1")
    result = scanned(harbor, harbor_project, f"scan/{kind}", "1", harbor_robot)
    overview, report = result["overview"], result["report"]
    assert overview["scan_status"] == "Success"
    expected = FIXTURE_CVES[kind]
    assert sorted(v["id"] for v in report["vulnerabilities"]) == sorted(expected)
    counts: dict[str, int] = {}
    for cve in expected:
        counts[FIXTURE_SEVERITY[cve]] = counts.get(FIXTURE_SEVERITY[cve], 0) + 1
    assert overview["summary"] == {
        "total": len(expected),
        "fixable": len(expected),
        "summary": counts,
    }
    order = ["None", "Low", "Medium", "High", "Critical"]
    highest = max((FIXTURE_SEVERITY[c] for c in expected), key=order.index, default="None")
    assert overview["severity"] == highest
    assert report["severity"] == (highest if expected else "")  # Harbor: "" for a clean image
    for finding in report["vulnerabilities"]:
        assert finding["severity"] == FIXTURE_SEVERITY[finding["id"]] and finding["fix_version"]


def test_state_survives_a_restart(docker_api: Any, tmp_path: Path) -> None:
    data = tmp_path / "harbor"
    first = LocalHarbor(data).start()
    try:
        first.create_project("k1s0hb-keep", auto_scan=True)
        robot = first.create_robot("k1s0hb-keep", "ci")
        repository = f"{first.registry_host}/k1s0hb-keep/app"
        build_test_image(docker_api, "high", f"{repository}:1")
        try:
            push(docker_api, repository, "1", robot)
        finally:
            untag(docker_api, f"{repository}:1")
        before = scanned(first, "k1s0hb-keep", "app", "1", robot)
    finally:
        first.stop()
    second = LocalHarbor(data).start()
    try:
        assert second.admin == first.admin
        after = scanned(second, "k1s0hb-keep", "app", "1", robot)
        assert after == before
        docker_api.pull(
            f"{second.registry_host}/k1s0hb-keep/app",
            tag="1",
            auth_config={"username": robot.name, "password": robot.secret},
        )
        untag(docker_api, f"{second.registry_host}/k1s0hb-keep/app:1")
    finally:
        second.stop()


@pytest.mark.parametrize(
    "harbor_project",
    [
        {
            "prevent_vul": True,
            "severity": "high",
            "reuse_sys_cve_allowlist": False,
            "cve_allowlist": [{"cve_id": "CVE-2099-10005"}],
        }
    ],
    indirect=True,
)
@pytest.mark.parametrize(("kind", "allowed"), [("allowlisted-high", True), ("high", False)])
def test_prevent_vul_honours_the_project_allowlist(
    docker_api: Any,
    harbor: LocalHarbor,
    harbor_project: str,
    harbor_robot: Robot,
    kind: str,
    allowed: bool,
) -> None:
    repository = f"{harbor.registry_host}/{harbor_project}/gate/{kind}"
    build_test_image(docker_api, kind, f"{repository}:1")
    try:
        push(docker_api, repository, "1", harbor_robot)
    finally:
        untag(docker_api, f"{repository}:1")
    assert (
        scanned(harbor, harbor_project, f"gate/{kind}", "1", harbor_robot)["overview"]["severity"]
        == "High"
    )
    got = requests.get(
        f"{harbor.url}/v2/{harbor_project}/gate/{kind}/manifests/1",
        auth=(harbor_robot.name, harbor_robot.secret),
        timeout=10,
    )
    assert (got.status_code == 200) is allowed
    if not allowed:
        assert got.status_code == 412 and "1 vulnerability cannot be pulled" in got.text
