"""The rescan workflow agrees with the action and its example caller (.github/workflows/
k1s0-rescan.yml, examples/platform-rescan)."""

from __future__ import annotations

from tests.action.unit.test_action_files import ACTION, ROOT, action_steps, load, workflow_call

RESCAN = ROOT / ".github" / "workflows" / "k1s0-rescan.yml"
RESCAN_USES = "k1s0-org/k1s0-image-action/.github/workflows/k1s0-rescan.yml@v1"
EXAMPLE = ROOT / "examples" / "platform-rescan" / ".github" / "workflows" / "rescan.yml"


def test_the_rescan_workflow_runs_the_action_with_command_rescan() -> None:
    action = load(ROOT / "action.yml")
    (step,) = action_steps(load(RESCAN), ACTION)
    assert step["with"]["command"] == "rescan"
    assert set(step["with"]) <= set(action["inputs"])
    # Every input of the workflow reaches the action.
    declared = workflow_call(load(RESCAN))["inputs"]
    passed = " ".join(str(v) for v in step["with"].values())
    assert all(f"inputs.{name}" in passed for name in declared if name != "runs-on")


def test_the_rescan_job_may_only_write_issues() -> None:
    workflow = load(RESCAN)
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["rescan"]["permissions"] == {"issues": "write"}


def test_the_example_calls_it_daily_with_declared_inputs_and_secrets() -> None:
    example = load(EXAMPLE)
    on = example["on"] if "on" in example else example[True]  # type: ignore[index]
    assert on["schedule"][0]["cron"].split()[2:] == ["*", "*", "*"]  # every day
    (job,) = example["jobs"].values()
    assert job["uses"] == RESCAN_USES
    declared = workflow_call(load(RESCAN))
    assert set(job.get("with", {})) <= set(declared["inputs"])
    assert set(job["secrets"]) == set(declared["secrets"])
    assert job["permissions"] == {"issues": "write"}
