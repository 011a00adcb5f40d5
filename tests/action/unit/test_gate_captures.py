"""The gate on bodies recorded from a real Harbor v2.15.2 (../shared/harbor/captures-v2.15.2):
what it decides for the very answers Harbor gave, including the project that made Harbor refuse
the pull (412) of a digest the old gate had promoted."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from k1s0_action.gate import GateSettings, judge
from k1s0_action.harbor import (
    parse_allowlist,
    parse_artifact,
    parse_overview,
    parse_project,
    parse_reports,
)
from k1s0_action.scanreport import Verdict

CAPTURES = (
    Path(
        os.environ.get("K1S0_HARBOR_SPEC")
        or Path(__file__).resolve().parents[4] / "shared/harbor/openapi3-v2.15.2.yaml"
    ).parent
    / "captures-v2.15.2"
)
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SETTINGS = GateSettings(600, ("critical", "high"), (), "fail")


def body(name: str) -> Any:
    text = (CAPTURES / name).read_text(encoding="utf-8")
    return json.loads(text.split("### RESPONSE BODY", 1)[1])


def test_a_project_made_through_the_api_has_no_reuse_key_and_reuses_the_system_list() -> None:
    for name in ("project_get.http", "project_get_allowlist_prevent_vul.http"):
        captured = body(name)
        assert "reuse_sys_cve_allowlist" not in captured["metadata"]
        assert parse_project(captured).reuse_system_allowlist is True
    assert parse_project(body("project_get.http")).allowlist.expires_at is None


@pytest.mark.parametrize(
    ("reuse", "expected"), [(None, Verdict.BLOCKED), ("false", Verdict.PASSED)]
)
def test_the_digest_harbor_refused_to_pull_is_blocked(reuse: str | None, expected: Verdict) -> None:
    """v2_manifest_pull_prevent_vul_412.http: the project's own list names CVE-2099-0001, but
    Harbor used the (empty) system list and refused the pull."""
    project = body("project_get_allowlist_prevent_vul.http")
    if reuse is not None:
        project["metadata"]["reuse_sys_cve_allowlist"] = reuse
    result = judge(
        parse_project(project),
        parse_allowlist(body("system_cve_allowlist_get.http"), "system"),
        parse_artifact(body("artifact_get_autoscan_on_push_Success.http")).scan,
        False,
        parse_reports(body("robot_full_vulns_success.http")),
        SETTINGS,
        NOW,
    )
    assert result.verdict is expected
    assert result.decision is not None and not result.decision.defects


def test_a_clean_image_passes() -> None:
    result = judge(
        parse_project(body("project_get.http")),
        parse_allowlist(body("system_cve_allowlist_get.http"), "system"),
        parse_artifact(body("artifact_get_slashrepo_double_encoded_Success.http")).scan,
        False,
        parse_reports(body("vulns_slash_repo_double_encoded_clean_image.http")),
        SETTINGS,
        NOW,
    )
    assert result.verdict is Verdict.PASSED


@pytest.mark.parametrize(
    "artifact",
    [
        "artifact_get_after_stop_Stopped.http",
        "artifact_get_autoscan_on_push_Running.http",
        "artifact_get_scan_trivy_missing_Error.http",
        "artifact_get_scan_state_none_scanner_up.http",
        "artifact_get_success_without_scan_overview.http",
    ],
)
def test_unfinished_or_failed_scans_never_pass(artifact: str) -> None:
    scan = parse_artifact(body(artifact)).scan
    result = judge(
        parse_project(body("project_get.http")),
        None,
        scan,
        False,
        parse_reports(body("vulns_never_scanned.http")),
        SETTINGS,
        NOW,
    )
    assert result.verdict is Verdict.BLOCKED


def test_the_overview_of_a_success_agrees_with_its_report() -> None:
    scan = parse_overview(body("artifact_get_autoscan_on_push_Success.http")["scan_overview"])
    assert scan is not None and scan.claims[0].total == 2
    assert dict(scan.claims[0].counts or ()) == {"critical": 1, "medium": 1}
