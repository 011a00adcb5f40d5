"""The vulnerability policy as tables: findings + allowlists + inputs -> disposition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from k1s0_action.policy import (
    Allowlist,
    Disposition,
    Finding,
    PolicyConfig,
    decide,
    effective_allowlist,
    normalize_severity,
    warning_lines,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BLOCK = PolicyConfig(block_severities=frozenset({"critical", "high"}))


def finding(cve: str, severity: str, package: str = "pkg") -> Finding:
    return Finding(id=cve, package=package, version="1.0", fix_version="1.1", severity=severity)


def project_list(*cves: str, expires: datetime | None = None) -> Allowlist:
    return Allowlist("project p", frozenset(cves), expires)


@pytest.mark.parametrize(
    ("severity", "allowlist", "config", "expected"),
    [
        ("critical", None, BLOCK, Disposition.BLOCKING),
        ("high", None, BLOCK, Disposition.BLOCKING),
        ("medium", None, BLOCK, Disposition.WARNING),
        ("low", None, BLOCK, Disposition.RECORDED),
        ("negligible", None, BLOCK, Disposition.RECORDED),
        ("unknown", None, BLOCK, Disposition.RECORDED),
        ("high", project_list("CVE-1"), BLOCK, Disposition.ALLOWED),
        (
            "high",
            project_list("CVE-1", expires=NOW + timedelta(days=1)),
            BLOCK,
            Disposition.ALLOWED,
        ),
        (
            "high",
            project_list("CVE-1", expires=NOW - timedelta(seconds=1)),
            BLOCK,
            Disposition.BLOCKING,
        ),
        ("high", project_list("CVE-2"), BLOCK, Disposition.BLOCKING),
        ("medium", project_list("CVE-1"), BLOCK, Disposition.ALLOWED),
        ("high", None, PolicyConfig(frozenset({"critical"})), Disposition.RECORDED),
        (
            "medium",
            None,
            PolicyConfig(frozenset({"critical", "high", "medium"})),
            Disposition.BLOCKING,
        ),
        (
            "critical",
            None,
            PolicyConfig(frozenset({"critical"}), frozenset({"CVE-1"})),
            Disposition.ALLOWED,
        ),
        (
            "critical",
            project_list("CVE-1", expires=NOW - timedelta(days=1)),
            PolicyConfig(frozenset({"critical"}), frozenset({"CVE-1"})),
            Disposition.ALLOWED,
        ),
    ],
)
def test_disposition(
    severity: str, allowlist: Allowlist | None, config: PolicyConfig, expected: Disposition
) -> None:
    decision = decide([finding("CVE-1", severity)], allowlist, config, NOW)
    assert decision.judged[0].disposition is expected
    assert decision.passed is (expected is not Disposition.BLOCKING)


def test_counts_found_allowed_blocking_per_severity() -> None:
    findings = [
        finding("CVE-1", "critical"),
        finding("CVE-2", "high"),
        finding("CVE-3", "high"),
        finding("CVE-4", "medium"),
        finding("CVE-5", "low"),
    ]
    decision = decide(findings, project_list("cve-3".upper()), BLOCK, NOW)
    rows = {c.severity: (c.found, c.allowed, c.blocking) for c in decision.counts}
    assert rows["critical"] == (1, 0, 1)
    assert rows["high"] == (2, 1, 1)
    assert rows["medium"] == (1, 0, 0)
    assert rows["low"] == (1, 0, 0)
    assert decision.found_by_severity()["high"] == 2
    assert [j.finding.id for j in decision.blocking] == ["CVE-1", "CVE-2"]


def test_ignore_cves_use_is_recorded_only_when_it_matched() -> None:
    config = PolicyConfig(BLOCK.block_severities, frozenset({"CVE-1", "CVE-9"}))
    decision = decide([finding("cve-1", "high")], None, config, NOW)
    assert decision.ignore_cves_used == ("CVE-1",)
    assert decision.allowed[0].reason == "ignore-cves input"


def test_expired_allowlist_is_reported() -> None:
    expired = project_list("CVE-1", expires=NOW - timedelta(days=1))
    decision = decide([finding("CVE-1", "high")], expired, BLOCK, NOW)
    assert decision.expired_allowlist == expired
    assert "expired" in decision.blocking[0].reason
    assert decide([finding("CVE-2", "high")], expired, BLOCK, NOW).expired_allowlist is None


@pytest.mark.parametrize(("reuse", "expected_source"), [(True, "system"), (False, "project p")])
def test_effective_allowlist_follows_harbor(reuse: bool, expected_source: str) -> None:
    system = Allowlist("system", frozenset({"CVE-S"}))
    assert effective_allowlist(project_list("CVE-P"), system, reuse).source == expected_source


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Critical", "critical"),
        ("HIGH", "high"),
        ("", "unknown"),
        (None, "unknown"),
        ("odd", "unknown"),
    ],
)
def test_normalize_severity(given: str | None, expected: str) -> None:
    assert normalize_severity(given) == expected


@pytest.mark.parametrize(
    ("found", "cap", "lines", "last"), [(3, 10, 3, "Medium"), (12, 10, 11, "... and 2 more")]
)
def test_warning_lines_are_capped(found: int, cap: int, lines: int, last: str) -> None:
    decision = decide([finding(f"CVE-{i}", "medium") for i in range(found)], None, BLOCK, NOW)
    shown = warning_lines(decision, cap)
    assert len(shown) == lines
    assert shown[-1].startswith(last)
