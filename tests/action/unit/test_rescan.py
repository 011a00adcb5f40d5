"""The rescan's pure parts: which tags are deployable, when a scan is recent enough, the table,
and the issue decisions (open, update, close) as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from k1s0_action.errors import InputError
from k1s0_action.harbor import Artifact, ScanOverview
from k1s0_action.policy import Allowlist, Finding, PolicyConfig, decide
from k1s0_action.rescan import (
    Outcome,
    RescanReport,
    Target,
    deployable_tags,
    fresh,
    parse_age,
    render_table,
    targets,
)
from k1s0_action.rescanissues import (
    ExistingIssue,
    IssueKind,
    issue_body,
    issue_title,
    plan_issues,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("tags", "deployable"),
    [
        (("latest", "1.4.0", "1.4.0-a1b2c3d"), ("latest", "1.4.0")),
        (("1.5.0-rc.1", "1.5.0-rc.1-a1b2c3d"), ("1.5.0-rc.1",)),
        (("main-a1b2c3d", "feature-x-0123456"), ()),
        (("sha256-" + "a" * 64 + ".sig",), ()),
        (("v1.0.0", "1.0"), ()),  # not what the action tags releases with
        ((), ()),
    ],
)
def test_deployable_tags(tags: tuple[str, ...], deployable: tuple[str, ...]) -> None:
    assert deployable_tags(tags) == deployable


def test_targets_are_the_artifacts_with_deployable_tags() -> None:
    listed = [
        Artifact(1, DIGEST_A, 1, ("1.0.0", "1.0.0-a1b2c3d"), None),
        Artifact(2, DIGEST_B, 1, ("main-a1b2c3d",), None),
    ]
    assert targets("p", "svc", listed) == [Target("p", "svc", DIGEST_A, ("1.0.0",), None)]


@pytest.mark.parametrize(
    ("scan", "max_age", "expected"),
    [
        (ScanOverview("Success", end_time=NOW - timedelta(hours=1)), 86400, True),
        (ScanOverview("Success", end_time=NOW - timedelta(hours=25)), 86400, False),
        (ScanOverview("Success", end_time=NOW - timedelta(hours=1)), 0, False),
        (ScanOverview("Error", end_time=NOW - timedelta(minutes=1)), 86400, False),
        (ScanOverview("Running"), 86400, False),
        (None, 86400, False),
    ],
)
def test_fresh(scan: ScanOverview | None, max_age: float, expected: bool) -> None:
    assert fresh(scan, NOW, max_age) is expected


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("0", 0)]
)
def test_parse_age(text: str, seconds: float) -> None:
    assert parse_age("max-age", text) == seconds


@pytest.mark.parametrize("text", ["", "-1h", "1w", "soon"])
def test_parse_age_refuses(text: str) -> None:
    with pytest.raises(InputError, match="max-age"):
        parse_age("max-age", text)


def outcome(
    repository: str,
    digest: str,
    tags: tuple[str, ...],
    cves: tuple[str, ...] = (),
    earlier: frozenset[str] | None = None,
    verdict: bool = True,
    project: str = "k1s0-system",
) -> Outcome:
    findings = [Finding(cve, "zlib", "1", "2", "high") for cve in cves]
    decision = decide(
        findings,
        Allowlist("project", frozenset()),
        PolicyConfig(frozenset({"critical", "high"})),
        NOW,
    )
    target = Target(project, repository, digest, tags, None)
    if not verdict:
        return Outcome(target, "Error", True, None, earlier, "the rescan ended with status Error")
    return Outcome(target, "Success", True, decision, earlier)


def test_the_table_puts_failing_images_first_and_marks_what_the_last_report_lacked() -> None:
    report = RescanReport(
        (
            outcome("auth", DIGEST_A, ("latest", "1.4.0")),
            outcome("pay", DIGEST_B, ("1.0.0",), ("CVE-2", "CVE-1"), frozenset({"CVE-1"})),
        ),
        skipped=("k1s0-infra",),
    )
    assert report.failed
    lines = render_table(report).splitlines()
    assert "2 deployable digests judged, 1 now failing the gate." in lines
    assert "Projects not in Harbor: k1s0-infra." in lines
    rows = [line for line in lines if line.startswith("| `")]
    assert rows[0] == (
        f"| `k1s0-system/pay` | `1.0.0` | `{DIGEST_B[7:19]}` | rescanned | CVE-1, CVE-2 🆕 |"
    )
    assert rows[1].startswith("| `k1s0-system/auth` | `latest`, `1.4.0` |")
    assert rows[1].endswith("| none |")


def test_a_scan_without_verdict_fails_closed() -> None:
    report = RescanReport((outcome("auth", DIGEST_A, ("1.0.0",), verdict=False),))
    assert report.failed
    assert "rescan ended with status Error" in render_table(report)


def test_nothing_deployable() -> None:
    report = RescanReport(())
    assert not report.failed
    assert "No deployable digests found." in render_table(report)


# -- issues ------------------------------------------------------------------------------------

FAILING = outcome("pay", DIGEST_B, ("1.0.0",), ("CVE-1",))
CLEAN = outcome("auth", DIGEST_A, ("1.0.0",))
PAY = issue_title("k1s0-system/pay")
AUTH = issue_title("k1s0-system/auth")
BODY = issue_body("k1s0-system/pay", [FAILING])


@pytest.mark.parametrize(
    ("outcomes", "existing", "expected"),
    [
        # A failing image without an issue gets one.
        ((FAILING, CLEAN), (), [(IssueKind.OPEN, PAY, 0)]),
        # The same state again changes nothing.
        ((FAILING,), (ExistingIssue(7, PAY, BODY),), []),
        # Another finding: the body is updated.
        ((FAILING,), (ExistingIssue(7, PAY, "older body"),), [(IssueKind.UPDATE, PAY, 7)]),
        # Clean again: closed.
        ((CLEAN,), (ExistingIssue(8, AUTH, "x"),), [(IssueKind.CLOSE, AUTH, 8)]),
        # No deployable digest any more (in a walked project): closed.
        ((), (ExistingIssue(8, AUTH, "x"),), [(IssueKind.CLOSE, AUTH, 8)]),
        # An image in a project this run did not walk is left alone.
        ((), (ExistingIssue(9, issue_title("k1s0-infra/db"), "x"),), []),
        # Other issues of the repository are never touched.
        ((CLEAN,), (ExistingIssue(10, "Bug: login fails", "x"),), []),
    ],
)
def test_issue_decisions(
    outcomes: tuple[Outcome, ...],
    existing: tuple[ExistingIssue, ...],
    expected: list[tuple[IssueKind, str, int]],
) -> None:
    actions = plan_issues(RescanReport(outcomes), ["k1s0-system"], existing)
    assert [(a.kind, a.title, a.number) for a in actions] == expected


def test_closing_says_why() -> None:
    (clean,) = plan_issues(RescanReport((CLEAN,)), ["k1s0-system"], [ExistingIssue(8, AUTH, "")])
    (gone,) = plan_issues(RescanReport(()), ["k1s0-system"], [ExistingIssue(8, AUTH, "")])
    assert "is clean again" in clean.body
    assert "no deployable digest" in gone.body


def test_the_issue_body_is_stable_and_lists_what_blocks() -> None:
    assert issue_body("k1s0-system/pay", [FAILING]) == BODY
    assert f"| `1.0.0` | `{DIGEST_B}` | CVE-1 |" in BODY


def test_a_project_the_credential_may_not_read_fails_the_rescan_closed() -> None:
    """Harbor answers a project robot 403 for every other project: those images were not judged,
    so the rescan must not report them as clean."""
    report = RescanReport((), unreadable=("k1s0-business",))
    assert report.failed
    assert "may not read them (403): k1s0-business" in render_table(report)
