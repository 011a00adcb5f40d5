"""`k1s0-image rescan` against LocalHarbor with real Trivy: an advisory added to the database after
release is reported and fails the run; a recent scan is reused; a scan already running (409) is
waited for; tags are never touched. Also the release diff's Harbor side (what `latest` or the
previous release points at, a previous digest without a report)."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import semver

from k1s0_action.cli import main as cli
from k1s0_action.harbor import HarborClient
from k1s0_action.policy import Allowlist, PolicyConfig, decide
from k1s0_action.releasediff import diff_with_release
from k1s0_action.rescanissues import issue_title
from k1s0_action.scanwait import WaitSettings, wait_for_scan
from k1s0_action.vulndiff import Baseline, DiffStatus
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.testimages import FIXTURE_CVES, build_test_image, untag
from k1s0_stack.trivy import FIXTURE_DB, fixture_cache_dir

pytestmark = pytest.mark.integration

# Published after the release: the busybox every test image carries is affected.
LATER_ADVISORY = {
    "id": "CVE-2099-20001",
    "package": "busybox",
    "fixed_version": "1.37.0-r20",
    "severity": "HIGH",
    "cvss_v3_score": 8.1,
    "cvss_v3_vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "cwe": ["CWE-787"],
    "title": "busybox: fixture high advisory published after the release",
    "description": "k1s0 fixture advisory: added to the database after the first scan.",
}
RESCAN_PERMISSIONS = (
    "pull",
    "scan",
    "project-read",
    "artifact-read",
    "artifact-addition-read",
    "artifact-list",
    "repository-read",
)
PUSH_PERMISSIONS = ("push", "pull", "tag-create", "artifact-read", "artifact-list")


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The project's fixture DB and a variant with one more advisory (each a Trivy cache dir)."""
    fixture = json.loads(FIXTURE_DB.read_text())
    fixture["advisories"].append(LATER_ADVISORY)
    variant = tmp_path_factory.mktemp("trivy-variant") / "fixture-db-later.json"
    variant.write_text(json.dumps(fixture, indent=1))
    return {"release": fixture_cache_dir(), "later": fixture_cache_dir(variant)}


class TrivyDb:
    """The cache dir the server's Trivy reads; every scan opens it afresh."""

    def __init__(self, path: Path, databases: dict[str, Path]) -> None:
        self.path = path
        self.databases = databases

    def use(self, name: str) -> None:
        target = self.path / "db"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.databases[name] / "db", target)


@pytest.fixture(scope="module")
def trivy_db(tmp_path_factory: pytest.TempPathFactory, databases: dict[str, Path]) -> TrivyDb:
    db = TrivyDb(tmp_path_factory.mktemp("trivy-cache"), databases)
    db.use("release")
    return db


@pytest.fixture(scope="module")
def harbor(tmp_path_factory: pytest.TempPathFactory, trivy_db: TrivyDb) -> Iterator[LocalHarbor]:
    """A server of its own: the tests change its Trivy database."""
    server = LocalHarbor(
        data_dir=tmp_path_factory.mktemp("rescan-harbor"),
        validate=True,
        trivy_db=str(trivy_db.path),
    ).start()
    yield server
    violations = server.contract_violations()
    server.stop()
    assert not violations, "\n".join(violations)


class Layer:
    """A `<prefix>-system` project with a pushing robot and a rescan robot."""

    def __init__(self, harbor: LocalHarbor, docker_api: Any) -> None:
        self.harbor = harbor
        self.docker_api = docker_api
        self.prefix = f"rs{uuid.uuid4().hex[:8]}"
        self.project = f"{self.prefix}-system"
        harbor.create_project(self.project, auto_scan=True)
        pusher = harbor.create_robot(self.project, "ci", permissions=PUSH_PERMISSIONS)
        self.pusher = (pusher.name, pusher.secret)
        scanner = harbor.create_robot(self.project, "rescan", permissions=RESCAN_PERMISSIONS)
        self.scanner = (scanner.name, scanner.secret)
        self.admin = HarborClient(harbor.url, *harbor.admin)

    def push(self, repository: str, kind: str, tags: tuple[str, ...]) -> str:
        """Builds and pushes the `kind` test image under tags[0], adds the other tags through
        Harbor's tag API and waits for the scan on push; returns the digest."""
        image = f"{self.harbor.registry_host}/{self.project}/{repository}"
        build_test_image(self.docker_api, kind, f"{image}:{tags[0]}")
        try:
            auth = {"username": self.pusher[0], "password": self.pusher[1]}
            lines = self.docker_api.push(
                image, tag=tags[0], auth_config=auth, stream=True, decode=True
            )
            assert [line["error"] for line in lines if "error" in line] == []
        finally:
            untag(self.docker_api, f"{image}:{tags[0]}")
        digest = self.admin.get_artifact(self.project, repository, tags[0]).digest
        for tag in tags[1:]:
            self.admin.create_tag(self.project, repository, digest, tag)
        self.wait(repository, digest)
        return digest

    def wait(self, repository: str, digest: str) -> None:
        waited = wait_for_scan(
            self.admin, self.project, repository, digest, WaitSettings(timeout=180), lambda _: None
        )
        assert waited.status in ("Success", "Error"), waited

    def tags(self) -> dict[str, str]:
        return {
            tag: artifact.digest
            for repository in self.admin.list_repositories(self.project)
            for artifact in self.admin.list_artifacts(self.project, repository)
            for tag in artifact.tags
        }

    def rescan(
        self, *flags: str, env: dict[str, str] | None = None, layers: str = "system"
    ) -> tuple[int, str, str]:
        """`k1s0-image rescan` for this layer; returns (exit code, stdout table, log). A project
        robot reads only its own project: Harbor answers it 403 for any other, existing or not
        (RequireProjectAccess), so other layers are only given with an admin credential."""
        env = {
            "HARBOR_USERNAME": self.scanner[0],
            "HARBOR_PASSWORD": self.scanner[1],
            **(env or {}),
        }
        argv = [
            "rescan",
            f"--harbor-url={self.harbor.url}",
            f"--project-prefix={self.prefix}",
            f"--layers={layers}",
            "--scan-timeout=180",
            *flags,
        ]
        out, log = io.StringIO(), io.StringIO()
        with redirect_stdout(out), pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stderr", log)
            code = cli(argv, env)
        return code, out.getvalue(), log.getvalue()


@pytest.fixture
def layer(harbor: LocalHarbor, docker_api: Any, trivy_db: TrivyDb) -> Iterator[Layer]:
    trivy_db.use("release")
    yield Layer(harbor, docker_api)
    trivy_db.use("release")


def row(table: str, image: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| `{image}`"))


def test_an_advisory_published_after_release_is_reported(layer: Layer, trivy_db: TrivyDb) -> None:
    released = layer.push("auth", "clean", ("1.0.0-abc1234", "1.0.0", "latest"))
    layer.push("auth", "low", ("main-def5678",))  # a branch build: not deployable
    before = layer.tags()

    admin = {"HARBOR_USERNAME": layer.harbor.admin[0], "HARBOR_PASSWORD": layer.harbor.admin[1]}
    code, _, log = layer.rescan("--max-age=24h", env=admin, layers="system,infra")
    assert code == 0, log
    assert f"no project {layer.prefix}-infra in Harbor; skipped" in log
    code, table, log = layer.rescan("--max-age=24h")
    assert code == 0, log
    assert "recent scan" in row(table, f"{layer.project}/auth")
    assert "1 deployable digests judged, 0 now failing the gate." in table

    trivy_db.use("later")
    code, table, log = layer.rescan("--max-age=0")
    assert code == 1
    line = row(table, f"{layer.project}/auth")
    assert "`latest`, `1.0.0`" in line and released[7:19] in line
    assert "rescanned" in line and "CVE-2099-20001 🆕" in line
    assert "::error::1 deployable digests fail the scan gate now" in table + log
    assert layer.tags() == before  # never moves or deletes a tag


def test_a_scan_running_when_the_rescan_asks_is_waited_for(layer: Layer) -> None:
    digest = layer.push("pay", "high", ("2.0.0-abc1234", "2.0.0"))
    layer.harbor.set_scan_behaviour(f"{layer.project}/pay", duration=4)
    try:
        assert layer.admin.start_scan(layer.project, "pay", digest)
        code, table, log = layer.rescan("--max-age=0")
    finally:
        layer.harbor.set_scan_behaviour(f"{layer.project}/pay", duration=0)
    assert f"{layer.project}/pay@{digest}: a scan is already running (409)" in log
    assert code == 1
    assert FIXTURE_CVES["high"][0] in row(table, f"{layer.project}/pay")


def test_the_allowlist_and_ignore_cves_apply_as_in_the_gate(layer: Layer) -> None:
    layer.push("pay", "high", ("2.0.0",))
    code, table, _ = layer.rescan("--max-age=24h", f"--ignore-cves={FIXTURE_CVES['high'][0]}")
    assert code == 0
    assert row(table, f"{layer.project}/pay").endswith("| none |")


def test_open_issues_follows_the_images_state(layer: Layer, trivy_db: TrivyDb) -> None:
    """`--open-issues` against LocalGitHub: an issue while the image fails, closed once clean."""
    github_stack = pytest.importorskip(
        "k1s0_stack.github", reason="LocalGitHub comes with the branch-cleanup work"
    )
    layer.push("auth", "clean", ("1.0.0",))
    title = issue_title(f"{layer.project}/auth")
    with github_stack.LocalGitHub(validate=True) as github:
        github.create_repository("k1s0-org/platform")
        env = {
            "GITHUB_TOKEN": github.token,
            "GITHUB_REPOSITORY": "k1s0-org/platform",
            "GITHUB_API_URL": github.url,
        }
        trivy_db.use("later")
        code, _, log = layer.rescan("--max-age=0", "--open-issues", env=env)
        assert code == 1
        assert f"issue open: {title}" in log
        (issue,) = github.issues("k1s0-org/platform")
        assert issue["state"] == "open" and "CVE-2099-20001" in issue["body"]
        assert github.token not in log

        trivy_db.use("release")
        code, _, log = layer.rescan("--max-age=0", "--open-issues", env=env)
        assert code == 0
        assert f"issue close: {title}" in log
        (issue,) = github.issues("k1s0-org/platform")
        assert issue["state"] == "closed"
        assert github.contract_violations() == []


# -- the release diff's Harbor side ----------------------------------------------------------


def judged(layer: Layer, repository: str, digest: str) -> Any:
    findings = layer.admin.vulnerabilities(layer.project, repository, digest)
    return decide(findings, Allowlist("p", frozenset()), PolicyConfig(frozenset({"critical"})), NOW)


NOW = datetime.now(UTC)


def test_release_diff_against_the_previous_release(layer: Layer) -> None:
    old = layer.push("svc", "mixed", ("1.0.0-aaaaaaa", "1.0.0", "latest"))
    new = layer.push("svc", "critical", ("1.1.0-bbbbbbb",))
    diff = diff_with_release(
        layer.admin,
        layer.project,
        "svc",
        new,
        semver.Version.parse("1.1.0"),
        True,
        judged(layer, "svc", new),
    )
    assert diff.status is DiffStatus.COMPARED
    assert diff.baseline == Baseline("1.0.0", old)
    assert diff.new == ()
    fixed = {f.id for f in diff.fixed}
    assert fixed == {FIXTURE_CVES[k][0] for k in ("high", "medium", "allowlisted-high")}
    assert [f.id for f in diff.remaining] == list(FIXTURE_CVES["critical"])


def test_release_diff_without_a_previous_release_or_its_report(layer: Layer) -> None:
    first = layer.push("one", "critical", ("1.0.0-aaaaaaa",))
    diff = diff_with_release(
        layer.admin,
        layer.project,
        "one",
        first,
        semver.Version.parse("1.0.0"),
        True,
        judged(layer, "one", first),
    )
    assert diff.status is DiffStatus.NO_PREVIOUS

    layer.harbor.set_scan_behaviour(f"{layer.project}/two", outcome="error")
    try:
        broken = layer.push("two", "clean", ("main-aaaaaaa", "latest"))
    finally:
        layer.harbor.set_scan_behaviour(f"{layer.project}/two", outcome="success")
    branch = layer.push("two", "critical", ("feature-bbbbbbb",))
    diff = diff_with_release(
        layer.admin, layer.project, "two", branch, None, False, judged(layer, "two", branch)
    )
    assert diff.status is DiffStatus.NO_REPORT
    assert diff.baseline == Baseline("latest", broken)
    assert "has no scan report in Harbor (scan status Error)" in diff.note
