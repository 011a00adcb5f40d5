"""Re-running a job ("Re-run jobs") is idempotent: the image's `created` label is the commit's
time, a release of this same commit is checked again instead of rebuilt, and a run that failed
at signing is finished by the next one."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.runner import ActionRun, run_action
from k1s0_stack.sigstore import LocalSigstore

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-service"
PREFIX = "k1s0rerun"
PROJECT = f"{PREFIX}-system"
REPOSITORY = "k1s0-org/k1s0"
COMMIT_TIME = "2026-03-04T05:06:07+00:00"


@pytest.fixture(scope="module")
def robot(harbor: LocalHarbor) -> Robot:
    harbor.create_project(PROJECT)
    return harbor.create_robot(PROJECT, f"rerun{uuid.uuid4().hex[:6]}")


def event(sha: str) -> dict[str, Any]:
    return {
        "head_commit": {"id": sha, "timestamp": COMMIT_TIME},
        "repository": {"default_branch": "main", "full_name": REPOSITORY},
    }


def release(
    tmp_path: Path,
    harbor: LocalHarbor,
    robot: Robot,
    sigstore: LocalSigstore,
    service: str,
    sha: str,
    token: bool = True,
) -> ActionRun:
    workspace = tmp_path / uuid.uuid4().hex[:8]
    shutil.copytree(SAMPLE, workspace / "app")
    env = {"COSIGN": tool("cosign")}
    if token:
        env |= sigstore.issue_env(workflow_claims(REPOSITORY, sha=sha))
    return run_action(
        workspace,
        {
            "service": service,
            "layer": "system",
            "version": "2.0.0",
            "registry": harbor.registry_host,
            "project-prefix": PREFIX,
            "context": "app",
            "harbor-url": harbor.url,
            "harbor-username": robot.name,
            "harbor-password": robot.secret,
            "fulcio-url": sigstore.fulcio_url,
            "rekor-url": sigstore.rekor_url,
            "trusted-root": str(sigstore.trusted_root_path),
            "tlog-upload": "false",
            "certificate-oidc-issuer": sigstore.oidc_url,
        },
        repository=REPOSITORY,
        sha=sha,
        event=event(sha),
        env=env,
    )


def tags(harbor: LocalHarbor, service: str) -> dict[str, str]:
    listed = requests.get(
        f"{harbor.api}/projects/{PROJECT}/repositories/{service}/artifacts",
        params={"with_tag": "true", "page_size": "100"},
        auth=harbor.admin,
        timeout=10,
    )
    listed.raise_for_status()
    return {t["name"]: a["digest"] for a in listed.json() for t in a.get("tags") or []}


def created_label(harbor: LocalHarbor, service: str, digest: str) -> str:
    found = requests.get(
        f"{harbor.api}/projects/{PROJECT}/repositories/{service}/artifacts/{digest}",
        auth=harbor.admin,
        timeout=10,
    ).json()
    return str(found["extra_attrs"]["config"]["Labels"]["org.opencontainers.image.created"])


OUTPUTS = ("image", "digest", "image-ref", "tags", "push-tag", "signature", "verify-command")


def test_a_rerun_of_a_released_commit_checks_it_again_and_changes_nothing(
    tmp_path: Path, harbor: LocalHarbor, robot: Robot, sigstore: LocalSigstore
) -> None:
    service = f"rr-{uuid.uuid4().hex[:6]}"
    sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    first = release(tmp_path, harbor, robot, sigstore, service, sha)
    assert first.returncode == 0, first.text()
    before = tags(harbor, service)
    assert created_label(harbor, service, first.outputs["digest"]) == "2026-03-04T05:06:07Z"

    again = release(tmp_path, harbor, robot, sigstore, service, sha)
    assert again.returncode == 0, again.text()
    assert {k: again.outputs.get(k) for k in OUTPUTS} == {k: first.outputs.get(k) for k in OUTPUTS}
    assert json.loads(again.outputs["tags"]) == ["2.0.0-" + sha[:7], "2.0.0", "latest"]
    assert "already released from this commit" in again.summary
    assert "::group::Build" not in again.stdout and "::group::Push" not in again.stdout
    assert "::group::Verify" in again.stdout and "::group::Scan gate" in again.stdout
    assert tags(harbor, service) == before


def test_another_commit_for_an_existing_release_is_refused_before_the_build(
    tmp_path: Path, harbor: LocalHarbor, robot: Robot, sigstore: LocalSigstore
) -> None:
    service = f"rr-{uuid.uuid4().hex[:6]}"
    first_sha, other_sha = (uuid.uuid4().hex + uuid.uuid4().hex[:8] for _ in range(2))
    assert release(tmp_path, harbor, robot, sigstore, service, first_sha).returncode == 0
    before = tags(harbor, service)
    other = release(tmp_path, harbor, robot, sigstore, service, other_sha)
    assert other.returncode == 1
    assert len(other.errors) == 1, other.stdout
    assert (
        "immutable" in other.errors[0]
        and f"commit {other_sha[:12]} was not built" in (other.errors[0])
    )
    assert "Step 1/" not in other.stdout
    assert tags(harbor, service) == before


def test_a_rerun_after_signing_failed_finishes_the_release(
    tmp_path: Path, harbor: LocalHarbor, robot: Robot, sigstore: LocalSigstore
) -> None:
    service = f"rr-{uuid.uuid4().hex[:6]}"
    sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    failed = release(tmp_path, harbor, robot, sigstore, service, sha, token=False)
    assert failed.returncode == 1 and "id-token" in failed.errors[0]
    assert set(tags(harbor, service)) == {f"2.0.0-{sha[:7]}"}

    finished = release(tmp_path, harbor, robot, sigstore, service, sha)
    assert finished.returncode == 0, finished.text()
    # The same commit builds the same image (created is the commit's time, the layers cached).
    assert finished.outputs["digest"] == failed.outputs["digest"]
    assert tags(harbor, service) == {
        tag: failed.outputs["digest"] for tag in (f"2.0.0-{sha[:7]}", "2.0.0", "latest")
    } | {k: v for k, v in tags(harbor, service).items() if k.endswith((".sig", ".att"))}

    again = release(tmp_path, harbor, robot, sigstore, service, sha)
    assert again.returncode == 0, again.text()
    assert again.outputs["image-ref"] == finished.outputs["image-ref"]
    assert again.outputs["signature"] == finished.outputs["signature"]
