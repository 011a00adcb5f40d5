"""The action's files agree with each other: action.yml, the reusable workflow, the examples,
requirements.lock, pyproject.toml and the Dockerfile's pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from k1s0_stack.act import local_action_tag

ROOT = Path(__file__).resolve().parents[3]
REUSABLE = ROOT / ".github" / "workflows" / "k1s0-image.yml"
ACTION = "k1s0-org/k1s0-image-action@v1"
REUSABLE_USES = "k1s0-org/k1s0-image-action/.github/workflows/k1s0-image.yml@v1"
# The image-building examples (examples/platform-rescan calls the rescan workflow instead).
EXAMPLE_WORKFLOWS = sorted(
    path
    for path in ROOT.glob("examples/*/.github/workflows/*.yml")
    if REUSABLE_USES in path.read_text()
)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def workflow_call(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert isinstance(on, dict)
    call = on["workflow_call"]
    assert isinstance(call, dict)
    return call


def action_steps(workflow: dict[str, Any], uses: str) -> list[dict[str, Any]]:
    return [
        step
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if step.get("uses") == uses
    ]


def test_the_reusable_workflow_passes_only_inputs_the_action_declares() -> None:
    action = load(ROOT / "action.yml")
    (step,) = action_steps(load(REUSABLE), ACTION)
    assert set(step["with"]) <= set(action["inputs"])


def test_the_reusable_workflow_outputs_come_from_action_outputs() -> None:
    action = load(ROOT / "action.yml")
    workflow = load(REUSABLE)
    job = workflow["jobs"]["image"]
    for name, value in job["outputs"].items():
        assert value == f"${{{{ steps.image.outputs.{name} }}}}"
        assert name in action["outputs"]
    for name, output in workflow_call(workflow)["outputs"].items():
        assert output["value"] == f"${{{{ jobs.image.outputs.{name} }}}}"
    assert {"image", "digest", "image-ref", "tags", "scan-status", "signature"} <= set(
        workflow_call(workflow)["outputs"]
    )


def test_the_reusable_workflow_asks_for_what_signing_needs() -> None:
    job = load(REUSABLE)["jobs"]["image"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}


@pytest.mark.parametrize("path", EXAMPLE_WORKFLOWS, ids=lambda p: p.parts[-4])
def test_examples_call_the_reusable_workflow_with_its_inputs(path: Path) -> None:
    declared = workflow_call(load(REUSABLE))
    calls = [job for job in load(path)["jobs"].values() if job.get("uses") == REUSABLE_USES]
    assert len(calls) == 1
    call = calls[0]
    assert set(call["with"]) <= set(declared["inputs"])
    required = {name for name, spec in declared["inputs"].items() if spec.get("required")}
    assert required <= set(call["with"])
    assert set(call["secrets"]) <= set(declared["secrets"])
    assert call["permissions"]["id-token"] == "write"


def test_there_is_an_example_for_each_s3_template() -> None:
    names = {path.parts[-4] for path in EXAMPLE_WORKFLOWS}
    assert {"rust-server", "react-client", "flutter-web-client"} <= names


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        found = re.match(r"^([A-Za-z0-9_.-]+)==([^ ]+) \\$", line)
        if found:
            pins[found.group(1).lower()] = found.group(2)
    return pins


def test_the_image_lock_pins_the_runtime_dependencies_of_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = dict(spec.split("==") for spec in project["dependencies"])
    pins = lock_pins()
    for name, version in declared.items():
        assert pins.get(name.lower()) == version, name


def test_every_locked_package_has_a_hash() -> None:
    text = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z])", text.split("\n", 1)[1])
    assert len(blocks) == len(lock_pins())
    for block in blocks:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), block


def test_the_dockerfile_pins_its_base_and_cosign() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:[^@\s]+@sha256:[0-9a-f]{64}$", dockerfile, re.M)
    assert re.search(
        r"^ARG COSIGN_URL=https://github\.com/sigstore/cosign/releases/", dockerfile, re.M
    )
    assert re.search(r"^ARG COSIGN_SHA256=[0-9a-f]{64}$", dockerfile, re.M)
    assert "--require-hashes" in dockerfile
    assert not re.search(r"^USER ", dockerfile, re.M)  # container actions run as root


def test_the_dockerfile_pins_buildx_where_the_action_finds_it() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    url = re.search(r"^ARG BUILDX_URL=(\S+)$", dockerfile, re.M)
    assert url, "no pinned buildx"
    # An official release binary, its version in both the path and the file name.
    assert re.fullmatch(
        r"https://github\.com/docker/buildx/releases/download/(v[0-9.]+)/buildx-\1\.linux-amd64",
        url.group(1),
    ), url.group(1)
    assert re.search(r"^ARG BUILDX_SHA256=[0-9a-f]{64}$", dockerfile, re.M)
    fetched = 'fetch-checked.py "$BUILDX_URL" "$BUILDX_SHA256" /opt/k1s0/bin/buildx'
    assert fetched in dockerfile
    path = re.search(r"\bPATH=(\S+)", dockerfile)
    assert path and "/opt/k1s0/bin" in path.group(1).split(":")  # find_buildx looks on PATH


def test_action_yml_runs_the_dockerfile() -> None:
    assert load(ROOT / "action.yml")["runs"] == {"using": "docker", "image": "Dockerfile"}


@pytest.mark.parametrize(
    ("uses", "tag"),
    [
        ("./", "act-dockeraction:latest"),
        ("./.github/actions/scan", "act-github-actions-scan-dockeraction:latest"),
        (ACTION, "act-k1s0-org-k1s0-image-action-v1-dockeraction:latest"),
    ],
)
def test_act_action_image_names(uses: str, tag: str) -> None:
    assert local_action_tag(uses) == tag
