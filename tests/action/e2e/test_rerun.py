""" "Re-run jobs" under act: a release whose first job failed at signing, then the same release
run twice more. Both later runs end green with the same outputs; the last one builds nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from k1s0_stack.harbor import LocalHarbor
from tests.action.e2e.conftest import E2E
from tests.action.e2e.test_act import errors, harbor_tags

pytestmark = pytest.mark.e2e

Run = Callable[..., E2E]
OUTPUTS = ("image", "digest", "image-ref", "tags", "push-tag", "scan-status", "signature")


def test_release_rerun_after_a_signing_failure_and_again(e2e: Run, harbor: LocalHarbor) -> None:
    # The job's first attempt had no OIDC token (as when id-token: write was missing).
    failed = e2e("action-repo", "uses-action.yml", branch="main", id_token=False, name="try1")
    assert failed.result is not None and failed.result.returncode != 0
    assert any("id-token" in line for line in errors(failed)), errors(failed)
    push_tag = failed.result.outputs["push-tag"]
    assert set(harbor_tags(harbor, failed)) == {push_tag}

    second = e2e("action-repo", "uses-action.yml", branch="main", again=failed, name="try2")
    third = e2e("action-repo", "uses-action.yml", branch="main", again=failed, name="try3")
    for world in (second, third):
        result = world.result
        assert result is not None
        assert result.returncode == 0, result.log[-6000:]
        assert result.job_result == "success"
    assert second.result is not None and third.result is not None
    first_outputs = {name: second.result.outputs.get(name) for name in OUTPUTS}
    assert {name: third.result.outputs.get(name) for name in OUTPUTS} == first_outputs
    assert json.loads(first_outputs["tags"] or "[]") == [push_tag, "1.4.0", "latest"]
    digest = first_outputs["digest"]
    tags = harbor_tags(harbor, third)
    assert {tag: tags[tag] for tag in (push_tag, "1.4.0", "latest")} == dict.fromkeys(
        (push_tag, "1.4.0", "latest"), digest
    )
    # The commit's time is the image's `created`, so the re-built image is the one pushed first.
    assert digest == failed.result.outputs["digest"]
    assert "already released from this commit" in third.result.summary
    assert "::group::Build" not in third.result.log
