"""`k1s0-image cleanup` against LocalHarbor (every request checked against Harbor's spec) and the
local GitHub server (every exchange checked against GitHub's own description, PyGithub as the
client): which branch builds T6/R3 delete, a dry run, GitHub's rate limit and Harbor failing
mid-run, and a re-run continuing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from k1s0_action.cleanup import BRANCH_LABEL, PULL_REQUEST_LABEL, SOURCE_LABEL
from k1s0_action.cleanup_run import CleanupRequest, run_cleanup
from k1s0_action.cli import main
from k1s0_action.github_api import GitHubClient
from k1s0_action.harbor import HarborClient
from k1s0_action.retry import Backoff
from k1s0_action.tags import branch_tags
from k1s0_stack.github import LocalGitHub
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.testimages import push_raw_image

pytestmark = pytest.mark.integration

REPO = "k1s0-org/auth"
OTHER_REPO = "k1s0-org/billing"
NOW = datetime.now(UTC)
PERMISSIONS = ("repository-read", "artifact-list", "artifact-delete")


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture(scope="module")
def github() -> Iterator[LocalGitHub]:
    server = LocalGitHub(validate=True).start()
    yield server
    violations = server.contract_violations()
    server.stop()
    assert not violations, "GitHub API contract violations:\n" + "\n".join(violations)


@dataclass
class World:
    """A Harbor project with branch builds, and GitHub's story of each branch."""

    harbor: LocalHarbor
    github: LocalGitHub
    project: str
    repository: str
    env: dict[str, str]
    capsys: pytest.CaptureFixture[str]
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest
    signatures: dict[str, str] = field(default_factory=dict)  # tag -> its signature's tag

    def push(
        self,
        tags: tuple[str, ...],
        days_old: float,
        branch: str = "",
        pull: int = 0,
        source: str = REPO,
    ) -> str:
        labels = {SOURCE_LABEL: f"https://github.com/{source}"}
        if branch:
            labels[BRANCH_LABEL] = branch
        if pull:
            labels[PULL_REQUEST_LABEL] = str(pull)
        name = f"{self.project}/{self.repository}"
        digest = push_raw_image(
            self.harbor.url,
            name,
            tags[0],
            self.harbor.admin,
            files={"tag": tags[0].encode()},
            labels=labels,
        )
        client = HarborClient(self.harbor.url, *self.harbor.admin)
        for tag in tags[1:]:
            client.create_tag(self.project, self.repository, digest, tag)
        # a cosign-style signature, an accessory that goes with its subject
        signature = f"{digest.replace(':', '-')}.sig"
        push_raw_image(
            self.harbor.url, name, signature, self.harbor.admin, files={"sig": digest.encode()}
        )
        # No API backdates a push: age the artifact in LocalHarbor's own records.
        with self.harbor.harbor.store.transaction() as data:
            for artifact in data["artifacts"].values():
                if artifact["digest"] == digest and artifact["repository"] == name:
                    moment = NOW - timedelta(days=days_old, minutes=1)
                    artifact["push_time"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for tag in tags:
            self.tags[tag] = digest
            self.signatures[tag] = signature
        return tags[0]

    def left(self) -> set[str]:
        client = HarborClient(self.harbor.url, *self.harbor.admin)
        return {t for a in client.list_artifacts(self.project, self.repository) for t in a.tags}

    def cli(self, *extra: str, summary: Path | None = None) -> tuple[int, str, str]:
        argv = ["cleanup", "--harbor-url", self.harbor.url, "--project", self.project, *extra]
        env = dict(self.env)
        if summary is not None:
            env["GITHUB_STEP_SUMMARY"] = str(summary)
        code = main(argv, env=env)
        out, err = self.capsys.readouterr()
        return code, out, err

    def secrets_absent(self, text: str) -> bool:
        return self.env["HARBOR_PASSWORD"] not in text and self.env["GITHUB_TOKEN"] not in text


def sha7(n: int) -> str:
    return f"{n:07x}"


def tag_of(branch: str, n: int) -> str:
    return branch_tags(branch, sha7(n)).push_tag


@pytest.fixture
def world(harbor: LocalHarbor, github: LocalGitHub, capsys: pytest.CaptureFixture[str]) -> World:
    project = f"k1s0cl-{uuid.uuid4().hex[:8]}"
    harbor.create_project(project, auto_scan=False)
    robot = harbor.create_robot(project, "cleanup", permissions=PERMISSIONS)
    repo = f"k1s0-org/auth-{project}"
    github.create_repository(repo)
    env = {
        "HARBOR_USERNAME": robot.name,
        "HARBOR_PASSWORD": robot.secret,
        "GITHUB_TOKEN": github.token,
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": repo,
    }
    w = World(harbor, github, project, "auth", env, capsys)
    story(w, repo)
    return w


def story(w: World, repo: str) -> None:
    gh = w.github
    source = repo

    def branch_build(branch: str, n: int, days_old: float = 10, pull: int = 0) -> str:
        return w.push((tag_of(branch, n),), days_old, branch=branch, pull=pull, source=source)

    # Merged 8 days ago: deleted. Merged 6 days ago: kept.
    number = gh.open_pull(repo, "a/merged-8-days-ago")
    gh.merge_pull(repo, number, ago(8))
    branch_build("a/merged-8-days-ago", 1)
    number = gh.open_pull(repo, "a/merged-6-days-ago")
    gh.merge_pull(repo, number, ago(6))
    branch_build("a/merged-6-days-ago", 2)
    # Closed without merge 9 days ago: deleted.
    number = gh.open_pull(repo, "b/closed-unmerged")
    gh.close_pull(repo, number, ago(9))
    branch_build("b/closed-unmerged", 3, pull=number)
    # Two pull requests: the first closed 20 days ago, the second open. The build for the first
    # goes; the branch's push build stays while a pull request is open.
    first = gh.open_pull(repo, "c/two-prs")
    gh.close_pull(repo, first, ago(20))
    gh.open_pull(repo, "c/two-prs")
    branch_build("c/two-prs", 4, pull=first)
    branch_build("c/two-prs", 5)
    # No pull request: kept while the branch exists, deleted 7 days after the push once gone.
    gh.push_branch(repo, "d/alive")
    branch_build("d/alive", 6, days_old=30)
    branch_build("e/gone", 7, days_old=9)
    # Two branches whose tags sanitise alike: judged by their own labels.
    number = gh.open_pull(repo, "feature/auth")
    gh.merge_pull(repo, number, ago(10))
    branch_build("feature/auth", 8)
    gh.open_pull(repo, "feature-auth")
    branch_build("feature-auth", 9)
    # Never touched: a release; a branch build also carrying a release tag; another repository's
    # branch build; an unlabelled build.
    w.push(("1.4.0-abcdef0", "1.4.0", "latest"), 30)
    w.push((tag_of("f/released", 10), "1.5.0"), 30, branch="f/released")
    w.push((tag_of("g/other-repo", 11),), 30, branch="g/other-repo", source=OTHER_REPO)
    w.push((tag_of("h/unlabelled", 12),), 30)


def deleted_tags() -> set[str]:
    return {
        tag_of("a/merged-8-days-ago", 1),
        tag_of("b/closed-unmerged", 3),
        tag_of("c/two-prs", 4),
        tag_of("e/gone", 7),
        tag_of("feature/auth", 8),
    }


def all_tags(w: World) -> set[str]:
    return set(w.tags)


def test_dry_run_changes_nothing_and_shows_the_table(world: World, tmp_path: Path) -> None:
    before = world.left()
    summary = tmp_path / "summary.md"
    summary.write_text("")
    code, out, err = world.cli(summary=summary)
    assert (code, err) == (0, "")
    assert world.left() == before == all_tags(world)
    assert "dry run: nothing deleted" in out
    assert "5 branch build(s) to delete, 4 kept, 4 other artifact(s) left alone" in out
    assert "| image | tag | branch | PR | merged at | action |" in out
    rows = [line for line in out.splitlines() if line.startswith(f"| {world.project}/auth |")]
    by_tag = {row.split(" | ")[1]: row for row in rows}
    assert set(by_tag) == deleted_tags() | {
        tag_of("a/merged-6-days-ago", 2),
        tag_of("c/two-prs", 5),
        tag_of("d/alive", 6),
        tag_of("feature-auth", 9),
    }
    assert by_tag[tag_of("a/merged-8-days-ago", 1)].endswith("| would delete (merged) |")
    assert "merged, not yet 7 days" in by_tag[tag_of("a/merged-6-days-ago", 2)]
    assert "would delete (closed without merge)" in by_tag[tag_of("b/closed-unmerged", 3)]
    assert "| feature/auth | #" in by_tag[tag_of("feature/auth", 8)]
    assert "kept (pull request #" in by_tag[tag_of("feature-auth", 9)]
    assert "kept (branch exists, no pull request)" in by_tag[tag_of("d/alive", 6)]
    assert summary.read_text().strip() in out
    assert summary.read_text().startswith("### Branch-build cleanup (dry run")
    assert world.secrets_absent(out + summary.read_text())


def test_apply_deletes_exactly_what_t6_says_with_signatures(world: World) -> None:
    code, out, err = world.cli("--apply")
    assert (code, err) == (0, "")
    assert "5 branch build(s) deleted, 4 kept" in out
    assert world.left() == all_tags(world) - deleted_tags()
    # the signatures went with their images; the others' stayed
    client = HarborClient(world.harbor.url, *world.harbor.admin)
    with world.harbor.harbor.store.transaction() as data:
        accessories = {
            a["digest"]
            for a in data["artifacts"].values()
            if a["repository"] == f"{world.project}/auth" and a.get("accessory_of")
        }
        subjects = {
            a["accessory_of"]
            for a in data["artifacts"].values()
            if a["repository"] == f"{world.project}/auth" and a.get("accessory_of")
        }
    assert accessories
    assert subjects == {world.tags[t] for t in world.left()}
    assert client.list_artifacts(world.project, "auth")
    # A second run finds nothing more to do.
    code, out, _ = world.cli("--apply")
    assert code == 0 and "0 branch build(s) deleted, 4 kept" in out
    assert world.left() == all_tags(world) - deleted_tags()


def test_github_rate_limit_mid_run_stops_cleanly_and_a_rerun_continues(world: World) -> None:
    github = world.github
    # Waited out within the budget: the run goes on.
    github.rate_limit(count=1, status=429, retry_after=1)
    code, out, _ = world.cli("--wait-budget", "30")
    assert code == 0 and "GitHub's rate limit (429)" in out and "waiting 1.0s" in out
    assert world.left() == all_tags(world)

    # Beyond the budget, when the run reaches the branches starting with "c/".
    def limit_at_c(seen: str) -> None:
        if "c%2Ftwo-prs" in seen or "c/two-prs" in seen:
            github.on_request = None
            github.rate_limit(count=1, status=403, reset_in=3600)

    github.on_request = limit_at_c
    code, out, err = world.cli("--apply", "--wait-budget", "30")
    github.on_request = None
    assert (code, err) == (0, "")
    assert "::warning title=cleanup stopped early" in out
    assert "stopped after 3 of 8 branches, everything before was done; a re-run continues" in out
    assert world.left() == all_tags(world) - {
        tag_of("a/merged-8-days-ago", 1),
        tag_of("b/closed-unmerged", 3),
    }
    assert out.count("| not reached |") == 6  # c (2 builds), d, e, feature-auth, feature/auth
    code, out, _ = world.cli("--apply")
    assert code == 0 and "3 branch build(s) deleted" in out
    assert world.left() == all_tags(world) - deleted_tags()


def test_harbor_failing_mid_run_reports_what_was_done(world: World) -> None:
    harbor = world.harbor
    calls = {"n": 0}

    def fail_deletes_at_e(seen: str) -> None:
        if "e%2Fgone" in seen or "e/gone" in seen:
            calls["n"] += 1
            if calls["n"] == 1:
                harbor.inject_fault("deleteArtifact", status=503, count=3)

    world.github.on_request = fail_deletes_at_e
    harbor_client = HarborClient(
        harbor.url,
        world.env["HARBOR_USERNAME"],
        world.env["HARBOR_PASSWORD"],
        backoff=Backoff(attempts=3, initial=0.01, maximum=0.02),
    )
    github_client = GitHubClient(world.env["GITHUB_TOKEN"], world.github.url)
    request = CleanupRequest(
        projects=(world.project,),
        repositories=(world.env["GITHUB_REPOSITORY"],),
        after=timedelta(days=7),
        apply=True,
        now=datetime.now(UTC),
    )
    result = run_cleanup(harbor_client, github_client, request)
    world.github.on_request = None
    harbor.clear_faults()
    outcomes = {row.decision.artifact.tags[0]: row.outcome for row in result.rows}
    assert outcomes[tag_of("a/merged-8-days-ago", 1)] == "deleted"
    assert outcomes[tag_of("c/two-prs", 4)] == "deleted"
    assert outcomes[tag_of("e/gone", 7)].startswith("failed: Harbor deleteArtifact answered 503")
    assert outcomes[tag_of("feature/auth", 8)] == "not reached"
    assert result.failed.startswith("deleting ")
    assert "(after 5 of 8 branches); a re-run continues" in result.failed
    # Nothing half-deleted: what failed is still there, whole, with its signature.
    left = world.left()
    assert tag_of("e/gone", 7) in left and tag_of("feature/auth", 8) in left
    assert "**Failed:**" in result.markdown(True)

    code, out, _ = world.cli("--apply")
    assert code == 0 and "2 branch build(s) deleted" in out
    assert world.left() == all_tags(world) - deleted_tags()


def test_harbor_failure_through_the_cli_is_one_error_line(world: World) -> None:
    world.env["HARBOR_PASSWORD"] += "-wrong"
    code, out, err = world.cli()
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "-wrong" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cleanup"], "harbor-url"),
        (["cleanup", "--harbor-url", "http://h", "--project", "p", "--layer", "x"], "not both"),
        (["cleanup", "--harbor-url", "http://h", "--layer", "nope"], "layer"),
        (["cleanup", "--harbor-url", "http://h", "--after", "soon"], "after"),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r", "HARBOR_USERNAME": "u"}
    env["HARBOR_PASSWORD"] = "p"
    assert main(argv, env=env) == 2
    assert message in capsys.readouterr().err
