"""The vulnerability policy as tables: findings + allowlists + inputs -> disposition, with
Harbor's semantics (src/pkg/scan/vuln/severity.go, src/pkg/allowlist/models/cve_allowlist.go)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from k1s0_action.policy import (
    UNRECOGNISED,
    Allowlist,
    Disposition,
    Finding,
    PolicyConfig,
    blocked_severities,
    decide,
    effective_allowlist,
    harbor_severity,
    warning_lines,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
BLOCK = PolicyConfig(block_severities=frozenset({"critical", "high"}))


def finding(cve: str, severity: str, package: str = "pkg") -> Finding:
    return Finding(id=cve, package=package, version="1.0", fix_version="1.1", severity=severity)


def project_list(*cves: str, expires: int | None = None) -> Allowlist:
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
        ("high", project_list("CVE-1", expires=NOW_TS + 86400), BLOCK, Disposition.ALLOWED),
        ("high", project_list("CVE-1", expires=NOW_TS + 1), BLOCK, Disposition.ALLOWED),
        # Harbor's IsExpired(): now >= expires_at; 0 and negatives are long past.
        ("high", project_list("CVE-1", expires=NOW_TS), BLOCK, Disposition.BLOCKING),
        ("high", project_list("CVE-1", expires=NOW_TS - 1), BLOCK, Disposition.BLOCKING),
        ("high", project_list("CVE-1", expires=0), BLOCK, Disposition.BLOCKING),
        ("high", project_list("CVE-1", expires=-1), BLOCK, Disposition.BLOCKING),
        ("high", project_list("CVE-2"), BLOCK, Disposition.BLOCKING),
        # Exact ids (CVESet.Contains): no trimming, no case folding.
        ("high", project_list("cve-1"), BLOCK, Disposition.BLOCKING),
        ("high", project_list(" CVE-1"), BLOCK, Disposition.BLOCKING),
        ("high", project_list("CVE-1 "), BLOCK, Disposition.BLOCKING),
        ("medium", project_list("CVE-1"), BLOCK, Disposition.ALLOWED),
        ("high", None, PolicyConfig(frozenset({"critical"})), Disposition.RECORDED),
        # block-severities is a threshold: a listed severity blocks everything above it.
        ("critical", None, PolicyConfig(frozenset({"medium"})), Disposition.BLOCKING),
        ("high", None, PolicyConfig(frozenset({"medium"})), Disposition.BLOCKING),
        ("medium", None, PolicyConfig(frozenset({"medium"})), Disposition.BLOCKING),
        ("low", None, PolicyConfig(frozenset({"medium"})), Disposition.RECORDED),
        ("critical", None, PolicyConfig(frozenset({"high"})), Disposition.BLOCKING),
        ("negligible", None, PolicyConfig(frozenset({"low"})), Disposition.RECORDED),
        ("none", None, PolicyConfig(frozenset({"unknown"})), Disposition.BLOCKING),
        ("critical", None, PolicyConfig(frozenset()), Disposition.RECORDED),
        (
            "critical",
            None,
            PolicyConfig(frozenset({"critical"}), frozenset({"CVE-1"})),
            Disposition.ALLOWED,
        ),
        (
            "critical",
            None,
            PolicyConfig(frozenset({"critical"}), frozenset({"cve-1"})),
            Disposition.BLOCKING,
        ),
        (
            "critical",
            project_list("CVE-1", expires=NOW_TS - 86400),
            PolicyConfig(frozenset({"critical"}), frozenset({"CVE-1"})),
            Disposition.ALLOWED,
        ),
        # An unrecognised severity ranks above Critical in Harbor and is never allowed here.
        (UNRECOGNISED, None, PolicyConfig(frozenset()), Disposition.BLOCKING),
        (UNRECOGNISED, project_list("CVE-1"), BLOCK, Disposition.BLOCKING),
        (
            UNRECOGNISED,
            None,
            PolicyConfig(frozenset({"critical"}), frozenset({"CVE-1"})),
            Disposition.BLOCKING,
        ),
    ],
)
def test_disposition(
    severity: str, allowlist: Allowlist | None, config: PolicyConfig, expected: Disposition
) -> None:
    decision = decide([finding("CVE-1", severity)], allowlist, config, NOW)
    assert decision.judged[0].disposition is expected
    assert decision.passed is (expected is not Disposition.BLOCKING)


@pytest.mark.parametrize("missing", ["", None])
def test_blocking_finding_without_id_blocks_and_is_never_dropped(missing: str | None) -> None:
    nameless = finding(missing or "", "high")
    decision = decide([nameless], project_list("", "CVE-1"), BLOCK, NOW)
    assert not decision.passed
    assert decision.blocking[0].finding is nameless
    assert "no vulnerability id" in decision.blocking[0].reason
    assert decision.blocking[0].finding.label == "(no id) (high)"
    low = decide([finding("", "low")], None, BLOCK, NOW)
    assert low.passed and low.judged[0].disposition is Disposition.RECORDED


def test_defects_block_whatever_the_findings() -> None:
    decision = decide([], None, BLOCK, NOW, defects=("the overview says Critical",))
    assert not decision.passed
    assert decision.defects == ("the overview says Critical",)


@pytest.mark.parametrize(
    ("listed", "blocked"),
    [
        (("critical", "high"), ("critical", "high")),
        (("medium",), ("critical", "high", "medium")),
        (("critical", "low"), ("critical", "high", "medium", "low")),
        (("negligible",), ("critical", "high", "medium", "low", "negligible")),
        (("unknown",), ("critical", "high", "medium", "low", "negligible", "unknown", "none")),
        ((), ()),
    ],
)
def test_block_severities_is_a_threshold(listed: tuple[str, ...], blocked: tuple[str, ...]) -> None:
    assert blocked_severities(listed) == blocked


def test_counts_found_allowed_blocking_per_severity() -> None:
    findings = [
        finding("CVE-1", "critical"),
        finding("CVE-2", "high"),
        finding("CVE-3", "high"),
        finding("CVE-4", "medium"),
        finding("CVE-5", "low"),
    ]
    decision = decide(findings, project_list("CVE-3"), BLOCK, NOW)
    rows = {c.severity: (c.found, c.allowed, c.blocking) for c in decision.counts}
    assert rows["critical"] == (1, 0, 1)
    assert rows["high"] == (2, 1, 1)
    assert rows["medium"] == (1, 0, 0)
    assert rows["low"] == (1, 0, 0)
    assert decision.found_by_severity()["high"] == 2
    assert [j.finding.id for j in decision.blocking] == ["CVE-1", "CVE-2"]


def test_ignore_cves_use_is_recorded_only_when_it_matched() -> None:
    config = PolicyConfig(BLOCK.block_severities, frozenset({"CVE-1", "CVE-9"}))
    decision = decide([finding("CVE-1", "high")], None, config, NOW)
    assert decision.ignore_cves_used == ("CVE-1",)
    assert decision.allowed[0].reason == "ignore-cves input"


def test_expired_allowlist_is_reported() -> None:
    expired = project_list("CVE-1", expires=0)
    decision = decide([finding("CVE-1", "high")], expired, BLOCK, NOW)
    assert decision.expired_allowlist == expired
    assert "expired" in decision.blocking[0].reason
    assert expired.expiry_text() == "1970-01-01T00:00:00+00:00"
    assert decide([finding("CVE-2", "high")], expired, BLOCK, NOW).expired_allowlist is None
    assert project_list(expires=10**20).expiry_text() == f"{10**20} (Unix time)"


@pytest.mark.parametrize(
    ("reuse", "system", "expected"),
    [
        (True, Allowlist("system", frozenset({"CVE-S"})), "system"),
        (False, Allowlist("system", frozenset({"CVE-S"})), "project p"),
        (True, None, None),  # the system list could not be read: no list at all
        (False, None, "project p"),
    ],
)
def test_effective_allowlist_follows_harbor(
    reuse: bool, system: Allowlist | None, expected: str | None
) -> None:
    chosen = effective_allowlist(project_list("CVE-P"), system, reuse)
    assert (chosen.source if chosen else None) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Critical", "critical"),
        ("HIGH", "high"),
        ("negligible", "negligible"),
        ("None", "none"),
        ("Unknown", "unknown"),
        ("", UNRECOGNISED),
        (None, UNRECOGNISED),
        ("odd", UNRECOGNISED),
        (" High", UNRECOGNISED),
        ("Severe", UNRECOGNISED),
        (5, UNRECOGNISED),
    ],
)
def test_harbor_severity(given: object, expected: str) -> None:
    assert harbor_severity(given) == expected


@pytest.mark.parametrize(
    ("found", "cap", "lines", "last"), [(3, 10, 3, "Medium"), (12, 10, 11, "... and 2 more")]
)
def test_warning_lines_are_capped(found: int, cap: int, lines: int, last: str) -> None:
    decision = decide([finding(f"CVE-{i}", "medium") for i in range(found)], None, BLOCK, NOW)
    shown = warning_lines(decision, cap)
    assert len(shown) == lines
    assert shown[-1].startswith(last)
