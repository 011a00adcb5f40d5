"""Promotion rules as tables: immutable release tags, latest only moves forward."""

from __future__ import annotations

import pytest
import semver

from k1s0_action.promotion import ImmutableTagError, TagMove, plan_promotion

IMAGE = "h/p/svc"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def v(text: str) -> semver.Version:
    return semver.Version.parse(text)


@pytest.mark.parametrize(
    ("version", "existing", "add", "already", "skipped"),
    [
        ("1.0.0", {}, ["1.0.0", "latest"], [], []),
        ("1.2.0", {"1.1.0": D2, "latest": D2}, ["1.2.0", "latest"], [], []),
        ("1.1.5", {"1.2.0": D2, "latest": D2}, ["1.1.5"], [], ["latest"]),
        ("1.2.0", {"1.2.0": D1, "latest": D1}, [], ["1.2.0", "latest"], []),
        ("1.2.0", {"1.2.0": D1, "1.3.0-rc.1": D2}, ["latest"], ["1.2.0"], []),
        ("2.0.0", {"1.9.9": D2, "main-abc1234": D2}, ["2.0.0", "latest"], [], []),
    ],
)
def test_plan(
    version: str,
    existing: dict[str, str],
    add: list[str],
    already: list[str],
    skipped: list[str],
) -> None:
    plan = plan_promotion(IMAGE, v(version), (version, "latest"), D1, existing)
    assert [m.tag for m in plan.add] == add
    assert list(plan.already) == already
    assert [tag for tag, _ in plan.skipped] == skipped
    assert set(plan.tags_after) == set(add) | set(already)


def test_latest_moving_remembers_where_it_was() -> None:
    plan = plan_promotion(IMAGE, v("1.2.0"), ("1.2.0", "latest"), D1, {"latest": D2, "1.1.0": D2})
    assert plan.add[-1] == TagMove("latest", D2)


def test_existing_release_tag_on_another_digest_is_refused() -> None:
    with pytest.raises(ImmutableTagError, match=r"h/p/svc:1\.2\.0 already exists on sha256:2+"):
        plan_promotion(IMAGE, v("1.2.0"), ("1.2.0", "latest"), D1, {"1.2.0": D2})


def test_latest_withheld_when_the_scan_did_not_complete() -> None:
    plan = plan_promotion(IMAGE, v("1.0.0"), ("1.0.0", "latest"), D1, {}, False, "scan incomplete")
    assert [m.tag for m in plan.add] == ["1.0.0"]
    assert plan.skipped == (("latest", "scan incomplete"),)


def test_hotfix_reason_names_the_highest_release() -> None:
    plan = plan_promotion(IMAGE, v("1.1.5"), ("1.1.5", "latest"), D1, {"1.2.0": D2})
    assert "1.2.0" in plan.skipped[0][1]


def test_branch_build_promotes_nothing() -> None:
    assert plan_promotion(IMAGE, None, (), D1, {}).tags_after == ()
