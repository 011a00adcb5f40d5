"""The scan gate end to end: the action's own pipeline against the Harbor-compatible local server,
with real images whose Trivy findings are known (k1s0_stack.testimages)."""

from __future__ import annotations

import io
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from k1s0_action import pipeline
from k1s0_action.context import GitContext
from k1s0_action.errors import ActionError, RegistryAuthError, ScanGateError
from k1s0_action.gate import GateSettings, scan_gate
from k1s0_action.gha import Actions
from k1s0_action.harbor import HarborAuthError, HarborClient, HarborPermissionError
from k1s0_action.inputs import read_inputs
from k1s0_action.outcome import RunOutcome
from k1s0_action.promotion import ImmutableTagError
from k1s0_stack.harbor import ACTION_PERMISSIONS, LocalHarbor
from k1s0_stack.runner import parse_outputs
from k1s0_stack.testimages import FIXTURE_CVES, build_context

pytestmark = pytest.mark.integration

SERVICE = "svc"
# What the action needs: push the build tag, read and scan the artifact, add and remove tags.
PERMISSIONS = ACTION_PERMISSIONS  # exactly what the action needs
_numbers = itertools.count(1)


@dataclass
class Run:
    """One run of the action: its inputs as env, and what it left behind."""

    env: dict[str, str]
    workdir: Path
    stream: io.StringIO

    @property
    def outputs(self) -> dict[str, str]:
        text = (self.workdir / "output").read_text() if (self.workdir / "output").exists() else ""
        return parse_outputs(text)

    @property
    def summary(self) -> str:
        path = self.workdir / "summary.md"
        return path.read_text() if path.exists() else ""


@dataclass
class Project:
    harbor: LocalHarbor
    prefix: str
    robot_name: str
    robot_secret: str
    tmp: Path

    @property
    def name(self) -> str:
        return f"{self.prefix}-system"

    @property
    def repository(self) -> str:
        return f"{self.name}/{SERVICE}"

    def client(self, secret: str | None = None) -> HarborClient:
        return HarborClient(self.harbor.url, self.robot_name, secret or self.robot_secret)

    def tags(self) -> dict[str, str]:
        return {
            tag: artifact.digest
            for artifact in self.client().list_artifacts(self.name, SERVICE)
            for tag in artifact.tags
        }

    def run(
        self,
        kind: str,
        version: str = "1.0.0",
        secret: str | None = None,
        **inputs: str,
    ) -> tuple[Run, RunOutcome | ActionError]:
        number = next(_numbers)
        workdir = self.tmp / f"run{number}"
        workdir.mkdir()
        context = build_context(kind, workdir / "context")
        env = {
            "INPUT_SERVICE": SERVICE,
            "INPUT_LAYER": "system",
            "INPUT_VERSION": version,
            "INPUT_REGISTRY": self.harbor.registry_host,
            "INPUT_PROJECT-PREFIX": self.prefix,
            "INPUT_CONTEXT": str(context),
            "INPUT_HARBOR-USERNAME": self.robot_name,
            "INPUT_HARBOR-PASSWORD": secret or self.robot_secret,
            "INPUT_HARBOR-URL": self.harbor.url,
            "INPUT_SIGN": "false",
            "GITHUB_OUTPUT": str(workdir / "output"),
            "GITHUB_STEP_SUMMARY": str(workdir / "summary.md"),
            "GITHUB_WORKSPACE": str(workdir),
            **{f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()},
        }
        git = GitContext(
            event_name="push",
            ref="refs/heads/main",
            sha=os.urandom(20).hex(),
            head_ref="",
            default_branch="main",
            repository="k1s0/example",
        )
        stream = io.StringIO()
        record = Run(env, workdir, stream)
        try:
            return record, pipeline.run(read_inputs(env), git, Actions(env, stream))
        except ActionError as error:
            return record, error


@pytest.fixture(autouse=True)
def _clean_faults(harbor: LocalHarbor) -> Iterator[None]:
    yield
    harbor.clear_faults()


@pytest.fixture
def project(harbor: LocalHarbor, tmp_path: Path) -> Iterator[Callable[..., Project]]:
    """Makes a fresh Harbor project (and robot) per call, named for this helper and test."""

    def make(permissions: tuple[str, ...] = PERMISSIONS, **options: Any) -> Project:
        prefix = f"gate{os.getpid()}n{next(_numbers)}"
        if "metadata" in options:  # stored exactly as given, as Harbor stores an API-made project
            harbor.harbor.create_project(
                f"{prefix}-system", options["metadata"], options.get("cve_allowlist")
            )
        else:
            harbor.create_project(f"{prefix}-system", **{"auto_scan": True, **options})
        robot = harbor.create_robot(f"{prefix}-system", "ci", permissions=permissions)
        return Project(harbor, prefix, robot.name, robot.secret, tmp_path)

    yield make


def passed(result: RunOutcome | ActionError) -> RunOutcome:
    if isinstance(result, ActionError):
        pytest.fail(f"the run failed: {result.diagnostics()}")
    return result


def test_clean_image_passes_and_latest_moves(project: Callable[..., Project]) -> None:
    p = project()
    run, result = p.run("clean", "1.0.0")
    first = passed(result)
    assert first.pushed is not None
    digest = first.pushed.digest
    assert set(first.applied_tags) == {first.plan.tags.push_tag, "1.0.0", "latest"}
    tags = p.tags()
    assert tags["1.0.0"] == tags["latest"] == tags[first.plan.tags.push_tag] == digest
    assert run.outputs["scan-status"] == "Success"
    assert run.outputs["blocked"] == "false"
    assert json.loads(run.outputs["vulnerabilities"])["critical"] == 0
    sarif = json.loads(Path(run.outputs["sarif-file"]).read_text())
    assert sarif["version"] == "2.1.0"
    assert Path(run.outputs["sarif-file"]).parent == run.workdir
    assert "passed" in run.summary
    assert f"/artifacts-tab/artifacts/{digest}" in run.summary

    _, again = p.run("clean", "1.1.0")
    second = passed(again)
    assert second.pushed is not None
    assert p.tags()["latest"] == second.pushed.digest
    assert p.tags()["1.0.0"] == digest


def test_critical_only_fails_promotes_nothing_and_removes_the_push_tag(
    project: Callable[..., Project],
) -> None:
    p = project()
    run, result = p.run("critical", "1.0.0")
    assert isinstance(result, ScanGateError)
    assert "blocked" in result.diagnostics()
    for cve in FIXTURE_CVES["critical"]:
        assert cve in run.summary
    assert p.tags() == {}
    assert run.outputs["blocked"] == "true"
    assert json.loads(run.outputs["vulnerabilities"])["critical"] >= 1
    results = json.loads(Path(run.outputs["sarif-file"]).read_text())["runs"][0]["results"]
    assert {r["ruleId"] for r in results if r["level"] == "error"} >= set(FIXTURE_CVES["critical"])


def test_blocked_image_keeps_its_push_tag_on_request(project: Callable[..., Project]) -> None:
    p = project()
    run, result = p.run("critical", "1.0.0", keep_blocked="true")
    assert isinstance(result, ScanGateError)
    assert list(p.tags()) == [run.outputs["push-tag"]]


def test_high_only_fails(project: Callable[..., Project]) -> None:
    p = project()
    run, result = p.run("high")
    assert isinstance(result, ScanGateError)
    assert "1.0.0" not in p.tags()
    assert json.loads(run.outputs["vulnerabilities"])["high"] == len(FIXTURE_CVES["high"])


def test_medium_only_passes_with_warnings(
    project: Callable[..., Project], capsys: pytest.CaptureFixture[str]
) -> None:
    p = project()
    run, result = p.run("medium")
    passed(result)
    out = capsys.readouterr().out
    assert "::warning title=Medium vulnerability," in out
    for cve in FIXTURE_CVES["medium"]:
        assert f"::Medium {cve} in " in out
        assert cve in run.summary
    assert "latest" in p.tags()


def test_low_only_passes_and_is_recorded(
    project: Callable[..., Project], capsys: pytest.CaptureFixture[str]
) -> None:
    p = project()
    run, result = p.run("low")
    passed(result)
    assert "::warning" not in capsys.readouterr().out
    assert json.loads(run.outputs["vulnerabilities"])["low"] == len(FIXTURE_CVES["low"])
    assert "| Low | " in run.summary
    results = json.loads(Path(run.outputs["sarif-file"]).read_text())["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == set(FIXTURE_CVES["low"])


def _allowlist(expires: datetime | None) -> list[dict[str, Any]]:
    stamp = int(expires.timestamp()) if expires else None
    return [{"cve_id": cve, "expires_at": stamp} for cve in FIXTURE_CVES["allowlisted-high"]]


def test_high_on_the_project_allowlist_passes(project: Callable[..., Project]) -> None:
    p = project(
        reuse_sys_cve_allowlist=False,
        cve_allowlist=_allowlist(datetime.now(UTC) + timedelta(days=30)),
    )
    run, result = p.run("allowlisted-high")
    passed(result)
    listed = len(FIXTURE_CVES["allowlisted-high"])
    assert f"| High | {listed} | {listed} | 0 |" in run.summary
    assert "project CVE allowlist" in run.summary or "CVE allowlist)" in run.summary


def test_expired_allowlist_entry_fails(project: Callable[..., Project]) -> None:
    p = project(
        reuse_sys_cve_allowlist=False,
        cve_allowlist=_allowlist(datetime.now(UTC) - timedelta(days=1)),
    )
    run, result = p.run("allowlisted-high")
    assert isinstance(result, ScanGateError)
    assert "expired" in run.summary


def test_scan_error_fails_closed(project: Callable[..., Project], harbor: LocalHarbor) -> None:
    p = project()
    harbor.set_scan_behaviour(repository=p.repository, outcome="error")
    run, result = p.run("clean")
    assert isinstance(result, ScanGateError)
    assert "Error" in result.diagnostics()
    assert run.outputs["scan-status"] == "Error"
    assert p.tags() == {}


def test_scan_error_with_warn_passes_without_latest(
    project: Callable[..., Project], harbor: LocalHarbor, capsys: pytest.CaptureFixture[str]
) -> None:
    p = project()
    harbor.set_scan_behaviour(repository=p.repository, outcome="error")
    _, result = p.run("clean", on_scan_error="warn")
    passed(result)
    assert "::warning title=Scan incomplete," in capsys.readouterr().out
    assert "1.0.0" in p.tags()
    assert "latest" not in p.tags()


def test_stuck_scan_times_out_and_fails_closed(
    project: Callable[..., Project], harbor: LocalHarbor
) -> None:
    p = project()
    harbor.set_scan_behaviour(repository=p.repository, outcome="stuck")
    run, result = p.run("clean", scan_timeout="4")
    assert isinstance(result, ScanGateError)
    assert "scan-timeout" in result.diagnostics()
    assert run.outputs["scan-status"] == "Timeout"


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503, "count": 3},
        {"status": 429, "count": 2, "retry_after": 1},
        {"drop": True, "count": 1},
    ],
    ids=["503-burst", "429-retry-after", "dropped-connection"],
)
def test_faults_while_polling_are_retried(
    project: Callable[..., Project], harbor: LocalHarbor, fault: dict[str, Any]
) -> None:
    p = project()
    harbor.set_scan_behaviour(repository=p.repository, outcome="success", duration=1.0)
    harbor.inject_fault(operation="getArtifact", **fault)
    run, result = p.run("clean")
    passed(result)
    assert "retry 1" in run.stream.getvalue()


def test_wrong_robot_secret_is_one_clear_error(project: Callable[..., Project]) -> None:
    p = project()
    _, result = p.run("clean", secret="not-the-secret")
    assert isinstance(result, RegistryAuthError)
    assert "harbor-username" in result.diagnostics()

    client = p.client(secret="not-the-secret")
    with pytest.raises(HarborAuthError, match="check the harbor-username and harbor-password"):
        scan_gate(
            client,
            p.name,
            SERVICE,
            "sha256:" + "0" * 64,
            GateSettings(60, ("critical", "high"), (), "fail"),
            Actions({}, io.StringIO()).info,
        )
    assert client.requests_sent == 1


def test_project_without_scan_on_push_gets_a_scan_started(
    project: Callable[..., Project],
) -> None:
    p = project(auto_scan=False)
    run, result = p.run("critical")
    assert isinstance(result, ScanGateError)
    assert "does not scan on push; starting a scan" in run.stream.getvalue()
    assert run.outputs["scan-status"] == "Success"


def test_robot_without_scan_permission_is_named(project: Callable[..., Project]) -> None:
    p = project(permissions=tuple(x for x in PERMISSIONS if x != "scan"), auto_scan=False)
    _, result = p.run("clean")
    assert isinstance(result, HarborPermissionError)
    assert "lacks the permission for scanArtifact" in result.diagnostics()
    assert "1.0.0" not in p.tags()


def test_hotfix_below_the_highest_release_is_promoted_without_latest(
    project: Callable[..., Project],
) -> None:
    p = project()
    newest = passed(p.run("clean", "1.2.0")[1])
    run, result = p.run("clean", "1.1.5")
    hotfix = passed(result)
    assert hotfix.pushed is not None and newest.pushed is not None
    tags = p.tags()
    assert tags["1.1.5"] == hotfix.pushed.digest
    assert tags["latest"] == newest.pushed.digest
    assert "below the highest release 1.2.0" in run.summary


def test_existing_release_tag_on_another_digest_is_refused(
    project: Callable[..., Project],
) -> None:
    p = project()
    first = passed(p.run("clean", "1.0.0")[1])
    _, result = p.run("clean", "1.0.0")
    assert isinstance(result, ImmutableTagError)
    assert "immutable" in result.diagnostics()
    assert first.pushed is not None
    assert p.tags()["1.0.0"] == first.pushed.digest


def test_project_without_the_reuse_key_is_judged_by_the_system_allowlist(
    project: Callable[..., Project],
) -> None:
    """Harbor treats a missing reuse_sys_cve_allowlist as true: the project's own list, which
    names the findings, does not apply, and Harbor would refuse the pull (412)."""
    p = project(
        metadata={"auto_scan": "true"},
        cve_allowlist={"items": [{"cve_id": c} for c in FIXTURE_CVES["allowlisted-high"]]},
    )
    run, result = p.run("allowlisted-high")
    assert isinstance(result, ScanGateError)
    assert "1.0.0" not in p.tags()
    assert "CVE allowlist: the system's" in run.stream.getvalue()


def test_robot_that_cannot_list_artifacts_fails_before_the_build(
    project: Callable[..., Project],
) -> None:
    p = project(permissions=tuple(x for x in PERMISSIONS if x != "artifact-list"))
    run, result = p.run("clean")
    assert isinstance(result, HarborPermissionError)
    assert "Harbor permission artifact:list" in result.diagnostics()
    assert "pushed" not in run.stream.getvalue()
    assert "Step" not in run.stream.getvalue()  # the build never started
