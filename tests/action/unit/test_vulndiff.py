"""What changed since the last release (k1s0_action.vulndiff): the baseline, the diff, its text."""

from __future__ import annotations

import pytest
import semver

from k1s0_action.policy import Finding
from k1s0_action.vulndiff import (
    Baseline,
    DiffStatus,
    compare,
    headline,
    log_lines,
    markdown,
    new_json,
    previous_release,
    same_digest,
    skipped,
)

NEW = "sha256:" + "n" * 64
OLD = "sha256:" + "0" * 64
OLDER = "sha256:" + "9" * 64
BASE = Baseline("1.3.0", OLD)


def finding(cve: str, severity: str, package: str = "zlib", version: str = "1.0") -> Finding:
    return Finding(cve, package, version, "1.1", severity)


@pytest.mark.parametrize(
    ("tags", "version", "release", "expected"),
    [
        # A release compares with the highest release below it, not with latest.
        (
            {"1.2.0": OLDER, "1.3.0": OLD, "latest": OLD, "1.3.0-abc1234": OLD},
            "1.4.0",
            True,
            Baseline("1.3.0", OLD),
        ),
        # A patch of an older line compares with that line's last release.
        ({"1.2.0": OLDER, "2.0.0": OLD, "latest": OLD}, "1.2.1", True, Baseline("1.2.0", OLDER)),
        # A re-run of the same release skips its own tag.
        ({"1.3.0": OLD, "1.4.0": NEW}, "1.4.0", True, Baseline("1.3.0", OLD)),
        # Pre-releases are not releases to compare with.
        ({"1.4.0-rc.1": OLD}, "1.4.0", True, None),
        # The first release: nothing before it.
        ({"latest": OLD}, "1.0.0", True, None),
        # Branch builds and pull requests compare with latest.
        ({"1.3.0": OLDER, "latest": OLD}, None, False, Baseline("latest", OLD)),
        ({"1.3.0": OLDER, "latest": OLD}, "1.4.0", False, Baseline("latest", OLD)),
        ({"1.3.0": OLDER}, None, False, None),
    ],
)
def test_previous_release(
    tags: dict[str, str], version: str | None, release: bool, expected: Baseline | None
) -> None:
    parsed = semver.Version.parse(version) if version else None
    assert previous_release(tags, NEW, parsed, release) == expected


def test_new_fixed_and_remaining_by_id_and_package() -> None:
    previous = [
        finding("CVE-1", "critical"),
        finding("CVE-2", "high", "expat"),
        finding("CVE-3", "medium", "libxml2"),
        finding("CVE-9", "low", "ncurses"),  # below Medium: never in the diff
    ]
    current = [
        finding("CVE-1", "critical"),
        finding("CVE-3", "high", "libxml2"),  # re-rated: shown as the new report rates it
        finding("CVE-4", "medium", "sqlite"),
        finding("CVE-2", "high", "libexpat"),  # same id, another package: new
        finding("CVE-8", "low"),
    ]
    diff = compare(current, previous, BASE)
    assert diff.status is DiffStatus.COMPARED and diff.compared
    assert [(f.id, f.package) for f in diff.new] == [("CVE-2", "libexpat"), ("CVE-4", "sqlite")]
    assert [(f.id, f.package) for f in diff.fixed] == [("CVE-2", "expat")]
    assert [(f.id, f.severity) for f in diff.remaining] == [
        ("CVE-1", "critical"),
        ("CVE-3", "high"),
    ]
    assert new_json(diff) == [
        {
            "id": "CVE-2",
            "package": "libexpat",
            "version": "1.0",
            "fix_version": "1.1",
            "severity": "high",
        },
        {
            "id": "CVE-4",
            "package": "sqlite",
            "version": "1.0",
            "fix_version": "1.1",
            "severity": "medium",
        },
    ]
    assert headline(diff) == (
        f"since 1.3.0 ({OLD[7:19]}): 2 new (1 high, 1 medium), 1 fixed, 2 remaining"
    )
    text = markdown(diff)
    assert (
        "| 🆕 new | [CVE-2](https://nvd.nist.gov/vuln/detail/CVE-2) | High | libexpat | 1.0 | 1.1 |"
        in text
    )
    assert (
        "| ✅ fixed | [CVE-2](https://nvd.nist.gov/vuln/detail/CVE-2) | High | expat | 1.0 | 1.1 |"
        in text
    )
    nvd = "https://nvd.nist.gov/vuln/detail/"
    assert f"| remaining | [CVE-1]({nvd}CVE-1) | Critical | zlib | 1.0 | 1.1 |" in text


def test_unchanged_findings_are_neither_new_nor_fixed() -> None:
    same = [finding("CVE-1", "critical"), finding("CVE-3", "medium", "libxml2")]
    diff = compare(same, list(same), BASE)
    assert diff.new == () and diff.fixed == () and len(diff.remaining) == 2
    assert new_json(diff) == []
    assert "0 new (none), 0 fixed, 2 remaining" in headline(diff)


def test_the_same_digest_as_the_previous_release() -> None:
    diff = same_digest([finding("CVE-1", "high")], Baseline("latest", NEW))
    assert diff.status is DiffStatus.SAME_DIGEST and diff.new == ()
    assert "nothing changed" in markdown(diff)


@pytest.mark.parametrize(
    ("status", "note"),
    [
        (DiffStatus.NO_PREVIOUS, "no previous release below this version in p/svc"),
        (DiffStatus.NO_REPORT, "1.3.0 (sha256:...) has no scan report in Harbor"),
    ],
)
def test_skipped_comparisons_say_why_and_output_nothing_new(status: DiffStatus, note: str) -> None:
    diff = skipped(status, note)
    assert not diff.compared
    assert new_json(diff) == []
    assert log_lines(diff) == (f"not compared with the last release: {note}",)
    assert note in markdown(diff)
    assert "| 🆕" not in markdown(diff)


def test_harbors_text_stays_on_its_line() -> None:
    hostile = Finding("CVE-1\n::error::owned", "pkg|x\r\n::warning::", "1", "", "high")
    diff = compare([hostile], [], BASE)
    assert all("\n" not in line and not line.startswith("::") for line in log_lines(diff))
    row = next(line for line in markdown(diff).splitlines() if "new" in line and "CVE-1" in line)
    assert "pkg\\|x" in row and "](" not in row  # no link made of a broken id
    assert not any(line.startswith("::") for line in markdown(diff).splitlines())
