"""LocalHarbor's pull prevention uses the allowlist Harbor would: the system list when the project
has no `reuse_sys_cve_allowlist` key (src/pkg/project/models/project.go ReuseSysCVEAllowlist),
an allowlist expired when `expires_at` is set and now >= it (cve_allowlist.go IsExpired), ids
matched exactly (CVESet.Contains)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.testimages import push_raw_image
from k1s0_stack.trivy import harbor_report

pytestmark = pytest.mark.integration

CRITICAL = {
    "Results": [
        {
            "Vulnerabilities": [
                {"VulnerabilityID": "CVE-2099-0001", "PkgName": "musl", "Severity": "CRITICAL"}
            ]
        }
    ]
}


def pull_status(harbor: LocalHarbor, own: dict[str, Any] | None, **metadata: Any) -> int:
    """The status of a pull of a Critical image with prevent_vul at critical, the project's own
    allowlist `own` ({"items": ..., "expires_at"?: ...}) and the metadata keys given."""
    project = f"k1s0al-{uuid.uuid4().hex[:8]}"
    harbor.create_project(project, prevent_vul=True, severity="critical", **metadata)
    if own is not None:
        harbor.harbor.update_project(project, None, own)
    digest = push_raw_image(harbor.url, f"{project}/app", "1", harbor.admin)
    harbor.set_scan_state(f"{project}/app", digest, "Success", harbor_report(CRITICAL, digest))
    answer = requests.get(
        f"{harbor.url}/v2/{project}/app/manifests/1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        auth=harbor.admin,
        timeout=10,
    )
    return answer.status_code


NAMED = {"cve_id": "CVE-2099-0001"}
OWN = {"reuse_sys_cve_allowlist": "false"}


@pytest.mark.parametrize(
    ("own", "metadata", "status"),
    [
        (None, {}, 412),
        # The project's own list names the CVE, but without the key the system list applies.
        ({"items": [NAMED]}, {}, 412),
        ({"items": [NAMED]}, OWN, 200),
        ({"items": [NAMED]}, {"reuse_sys_cve_allowlist": "true"}, 412),
        ({"items": [NAMED], "expires_at": 0}, OWN, 412),
        ({"items": [NAMED], "expires_at": -1}, OWN, 412),
        ({"items": [NAMED], "expires_at": 4102444800}, OWN, 200),
        ({"items": [{"cve_id": "cve-2099-0001"}]}, OWN, 412),
    ],
)
def test_the_effective_allowlist(
    harbor: LocalHarbor, own: dict[str, Any] | None, metadata: dict[str, str], status: int
) -> None:
    assert pull_status(harbor, own, **metadata) == status


def test_an_expiry_in_the_past_expires_the_system_list(harbor: LocalHarbor) -> None:
    system = {"items": [NAMED], "expires_at": int(time.time()) - 1}
    requests.put(
        f"{harbor.api}/system/CVEAllowlist", json=system, auth=harbor.admin, timeout=10
    ).raise_for_status()
    try:
        assert pull_status(harbor, None) == 412
        system["expires_at"] = int(time.time()) + 3600
        requests.put(
            f"{harbor.api}/system/CVEAllowlist", json=system, auth=harbor.admin, timeout=10
        )
        assert pull_status(harbor, None) == 200
    finally:
        requests.put(
            f"{harbor.api}/system/CVEAllowlist", json={"items": []}, auth=harbor.admin, timeout=10
        )
