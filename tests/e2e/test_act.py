"""The action run as GitHub runs it: real workflow files under act, against the local stack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from k1s0_stack.act import ActResult
from k1s0_stack.registry import Registry
from tests.conftest import ROBOT_SECRET, ROBOT_USER

pytestmark = pytest.mark.e2e

Run = Callable[..., ActResult]


def tags_in(registry: Registry, repository: str) -> list[str]:
    response = requests.get(
        f"{registry.url}/v2/{repository}/tags/list", auth=(ROBOT_USER, ROBOT_SECRET), timeout=10
    )
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return sorted(response.json().get("tags") or [])


def digest_of(registry: Registry, repository: str, tag: str) -> str:
    response = registry.manifest(repository, tag, (ROBOT_USER, ROBOT_SECRET))
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def main_push(act_run: Run, registry: Registry, service: str, name: str = "run") -> ActResult:
    return act_run(
        "action-repo",
        "uses-action.yml",
        branch="main",
        variables={
            "SERVICE": service,
            "LAYER": "system",
            "VERSION": "1.4.0",
            "REGISTRY": registry.host,
            "HARBOR_USERNAME": ROBOT_USER,
        },
        secrets={"HARBOR_PASSWORD": ROBOT_SECRET},
        name=name,
    )


def check_main_push(result: ActResult, registry: Registry, service: str) -> None:
    assert result.returncode == 0, result.log[-4000:]
    assert result.job_result == "success"
    outputs = result.outputs
    sha7 = outputs["push-tag"].rsplit("-", 1)[1]
    repository = f"k1s0-system/{service}"
    assert outputs["image"] == f"{registry.host}/{repository}"
    assert outputs["push-tag"] == f"1.4.0-{sha7}"
    assert json.loads(outputs["tags"]) == [f"1.4.0-{sha7}", "1.4.0", "latest"]
    assert outputs["image-ref"] == f"{outputs['image']}@{outputs['digest']}"
    assert tags_in(registry, repository) == sorted([f"1.4.0-{sha7}", "1.4.0", "latest"])
    for tag in ("1.4.0", "latest", f"1.4.0-{sha7}"):
        assert digest_of(registry, repository, tag) == outputs["digest"]
    assert outputs["digest"] in result.summary
    assert ROBOT_SECRET not in result.log + result.summary


def test_uses_dot_on_a_push_to_main(act_run: Run, registry: Registry, service_name: str) -> None:
    """Run 1: `uses: ./` on a push to main: outputs, job summary, push tag and promoted tags."""
    result = main_push(act_run, registry, service_name)
    check_main_push(result, registry, service_name)
    # the summary is the runner's file, as written by the action container
    assert f"{registry.host}/k1s0-system/{service_name}" in result.summary


def test_caller_workflow_on_a_feature_branch(
    act_run: Run, registry: Registry, service_name: str
) -> None:
    """Run 2: a service's workflow calls the reusable workflow: `<branch>-<sha7>` only, and the
    called workflow's outputs reach the caller."""
    result = act_run(
        "service-repo",
        "caller.yml",
        branch="feature/Auth-Login",
        variables={
            "SERVICE": service_name,
            "LAYER": "system",
            "VERSION": "1.4.0",
            "K1S0_HARBOR_REGISTRY": registry.host,
        },
        secrets={"HARBOR_USERNAME": ROBOT_USER, "HARBOR_PASSWORD": ROBOT_SECRET},
    )
    assert result.returncode == 0, result.log[-4000:]
    outputs = result.outputs
    push_tag = outputs["push-tag"]
    assert push_tag.startswith("feature-auth-login-")
    assert len(push_tag.rsplit("-", 1)[1]) == 7
    assert json.loads(outputs["tags"]) == [push_tag]
    repository = f"k1s0-system/{service_name}"
    assert outputs["image"] == f"{registry.host}/{repository}"
    assert tags_in(registry, repository) == [push_tag]
    assert digest_of(registry, repository, push_tag) == outputs["digest"]


def test_unknown_layer_fails_before_any_build(
    act_run: Run, registry: Registry, service_name: str
) -> None:
    """Run 5: a bad input fails the job with one clear error, before anything is built."""
    result = act_run(
        "action-repo",
        "uses-action.yml",
        branch="main",
        variables={
            "SERVICE": service_name,
            "LAYER": "frontend",
            "VERSION": "1.4.0",
            "REGISTRY": registry.host,
            "HARBOR_USERNAME": ROBOT_USER,
        },
        secrets={"HARBOR_PASSWORD": ROBOT_SECRET},
    )
    assert result.returncode != 0
    assert result.job_result == "failure"
    errors = [line for line in result.log.splitlines() if "::error" in line]
    assert any("input 'layer'" in line and "frontend" in line for line in errors), errors
    assert "Step 1/" not in result.log  # no build step ever ran
    assert tags_in(registry, f"k1s0-system/{service_name}") == []


def test_parallel_runs_do_not_collide(act_run: Run, registry: Registry) -> None:
    """Two runs of the same workflow at once: each gets its own containers and its own result."""
    services = [f"e2e-par-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda s: main_push(act_run, registry, s, name=s), services))
    assert results[0].run_id != results[1].run_id
    for service, result in zip(services, results, strict=True):
        check_main_push(result, registry, service)
