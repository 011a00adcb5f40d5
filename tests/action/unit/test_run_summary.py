"""The run's outcome and its job summary: every end of a run says what was done and what was not."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from k1s0_action import cli
from k1s0_action.context import GitContext
from k1s0_action.naming import Layer
from k1s0_action.outcome import (
    PushedImage,
    ReportSettings,
    RunOutcome,
    RunRecord,
    Stage,
    StageState,
)
from k1s0_action.plan import BuildPlan, PlanRequest, make_plan
from k1s0_action.promotion import PromotionPlan, TagMove
from k1s0_action.summary import run_summary

SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
DIGEST = "sha256:" + "ab" * 32
CONTEXT = GitContext(
    event_name="push",
    ref="refs/heads/main",
    sha=SHA,
    head_ref="",
    default_branch="main",
    repository="k1s0-org/auth",
)


def release_plan() -> BuildPlan:
    request = PlanRequest("auth", Layer.SYSTEM, "1.4.0", "", "harbor.example.com", "k1s0")
    return make_plan(request, CONTEXT, datetime(2026, 12, 1, tzinfo=UTC))


def states(outcome: RunOutcome) -> list[StageState]:
    return [outcome.stage_state(stage) for stage in Stage]


D, F, S, N = StageState.DONE, StageState.FAILED, StageState.SKIPPED, StageState.NOT_REACHED


def test_a_failure_before_anything_was_built_still_has_a_summary() -> None:
    record = RunRecord()
    outcome = record.fail("input 'layer': 'core' is not a layer; use one of system | business")
    assert states(outcome) == [F, N, N, N, N, N, N]
    text = run_summary(outcome, None)
    assert "failed at inputs" in text
    assert "input 'layer'" in text
    assert "| build | ⏸️ not reached |" in text
    assert "release tag" not in text  # nothing was pushed, so nothing to reassure about


def test_a_build_failure_names_the_stage_and_shows_the_planned_image() -> None:
    record = RunRecord()
    record.update(plan=release_plan())
    record.enter(Stage.BUILD)
    outcome = record.fail("the Docker engine failed the build: step 3 returned 1")
    assert states(outcome) == [D, F, N, N, N, N, N]
    text = run_summary(outcome, None)
    assert "harbor.example.com/k1s0-system/auth" in text
    assert "none (not pushed)" in text
    assert "| Not applied | `1.4.0-a1b2c3d`, `1.4.0`, `latest` |" in text


def test_a_signing_failure_after_the_push_says_no_release_tag_moved() -> None:
    plan = release_plan()
    record = RunRecord()
    record.update(plan=plan, image_id="sha256:1", pushed=PushedImage(plan.image, DIGEST))
    record.enter(Stage.SIGN)
    outcome = record.fail("cosign could not get a certificate from Fulcio")
    assert states(outcome) == [D, D, S, D, N, F, N]
    text = run_summary(outcome, None)
    assert "No release tag was moved by this run." in text
    assert outcome.applied_tags == ("1.4.0-a1b2c3d",)


def test_a_successful_run_lists_the_promoted_tags() -> None:
    plan = release_plan()
    promotion = PromotionPlan(add=(TagMove("1.4.0", None), TagMove("latest", None)))
    outcome = RunOutcome(
        settings=ReportSettings(sign=False),
        plan=plan,
        image_id="sha256:1",
        pushed=PushedImage(plan.image, DIGEST),
        promotion=promotion,
    )
    assert outcome.applied_tags == ("1.4.0-a1b2c3d", "1.4.0", "latest")
    assert outcome.stage_state(Stage.SIGN) is StageState.SKIPPED
    text = run_summary(outcome, None)
    assert "✅ pushed, scanned and promoted" in text
    assert "| Tags | `1.4.0-a1b2c3d`, `1.4.0`, `latest` |" in text


def test_push_false_skips_everything_after_the_build() -> None:
    outcome = RunOutcome(
        settings=ReportSettings(push=False), plan=release_plan(), image_id="sha256:1"
    )
    assert states(outcome) == [D, D, S, S, S, S, S]
    assert "built (push: false)" in run_summary(outcome, None)


@pytest.mark.parametrize("quoted", ["```\n::warning::x", "a | b", "line1\nline2"])
def test_the_error_is_shown_verbatim_in_a_block_it_cannot_close(quoted: str) -> None:
    outcome = RunRecord().fail(f"Harbor said: {quoted}")
    text = run_summary(outcome, None)
    block = text.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert "```" not in block
    assert block.endswith(quoted.replace("```", "'''"))


def test_the_run_command_writes_a_summary_and_outputs_even_for_a_bad_input(
    tmp_path: Path,
) -> None:
    """The command reports from its `finally`: a run that never got past its inputs still leaves
    a job summary saying where it stopped, and one error line."""
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    summary.touch()
    outputs.touch()
    env = {
        "INPUT_SERVICE": "auth",
        "INPUT_LAYER": "platform",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_WORKSPACE": str(tmp_path),
    }
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream):
        code = cli.main(["run"], env)
    assert code == 1
    errors = [line for line in stream.getvalue().splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "input 'layer'" in errors[0]
    text = summary.read_text()
    assert "❌ failed at inputs" in text and "input 'layer'" in text
    assert "| build | ⏸️ not reached |" in text
