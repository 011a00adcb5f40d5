"""The action's run signs the pushed digest before it promotes release tags, and promotes nothing
when signing fails."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
import requests

from k1s0_action import pipeline
from k1s0_action.context import GitContext
from k1s0_action.errors import OidcError
from k1s0_action.gha import Actions
from k1s0_action.inputs import read_inputs
from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.sigstore import LocalSigstore
from tests.fixtures import BUSYBOX_IMAGE

pytestmark = pytest.mark.integration

REPOSITORY = "k1s0-org/k1s0"
PROJECT = "k1s0signing-service"


@pytest.fixture(scope="module")
def robot(harbor: LocalHarbor) -> Robot:
    harbor.create_project(PROJECT, auto_scan=True)
    return harbor.create_robot(PROJECT, f"sign{uuid.uuid4().hex[:6]}")


def run_env(
    tmp_path: Path, harbor: LocalHarbor, robot: Robot, sigstore: LocalSigstore, service: str
) -> dict[str, str]:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nLABEL dev.k1s0.test={service}\n")
    (tmp_path / "out").touch()
    return {
        "INPUT_SERVICE": service,
        "INPUT_LAYER": "service",
        "INPUT_VERSION": "1.4.0",
        "INPUT_PROJECT-PREFIX": "k1s0signing",
        "INPUT_REGISTRY": harbor.registry_host,
        "INPUT_HARBOR-URL": harbor.url,
        "INPUT_CONTEXT": str(context),
        "INPUT_HARBOR-USERNAME": robot.name,
        "INPUT_HARBOR-PASSWORD": robot.secret,
        "INPUT_FULCIO-URL": sigstore.fulcio_url,
        "INPUT_REKOR-URL": "http://127.0.0.1:9",
        "INPUT_TRUSTED-ROOT": str(sigstore.trusted_root_path),
        "INPUT_TLOG-UPLOAD": "false",
        "INPUT_CERTIFICATE-OIDC-ISSUER": sigstore.oidc_url,
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_WORKSPACE": str(tmp_path),  # the SARIF report goes there, not into the checkout
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }


CONTEXT = GitContext(
    event_name="push",
    ref="refs/heads/main",
    sha="89abcdef0123456789abcdef0123456789abcdef",
    head_ref="",
    default_branch="main",
    repository=REPOSITORY,
    run_id="77",
    workflow_ref=f"{REPOSITORY}/.github/workflows/image.yml@refs/heads/main",
)


def tags(harbor: LocalHarbor, robot: Robot, repository: str) -> list[str]:
    answer = requests.get(
        f"{harbor.url}/v2/{repository}/tags/list", auth=(robot.name, robot.secret), timeout=10
    )
    answer.raise_for_status()
    return sorted(answer.json().get("tags") or [])


def test_run_signs_the_digest_then_promotes(
    tmp_path: Path,
    harbor: LocalHarbor,
    robot: Robot,
    sigstore: LocalSigstore,
) -> None:
    service = f"signed{uuid.uuid4().hex[:6]}"
    env = run_env(tmp_path, harbor, robot, sigstore, service)
    # The runner hands the job its token variables in the environment the settings are read from.
    env |= sigstore.issue_env(workflow_claims(REPOSITORY, sha=CONTEXT.sha))
    env["COSIGN"] = tool("cosign")
    result = pipeline.run(read_inputs(env), CONTEXT, Actions(env, io.StringIO()))
    assert result.pushed is not None
    digest_tag = result.pushed.digest.replace(":", "-")
    repository = result.plan.image.split("/", 1)[1]
    assert tags(harbor, robot, repository) == sorted(
        [*result.applied_tags, f"{digest_tag}.sig", f"{digest_tag}.att"]  # attest: true
    )
    assert "latest" in result.applied_tags
    outputs = (tmp_path / "out").read_text()
    for name in ("signature", "certificate-identity", "certificate-oidc-issuer", "verify-command"):
        assert f"{name}<<" in outputs
    assert f"{digest_tag}.sig" in outputs


def test_run_promotes_nothing_when_signing_fails(
    tmp_path: Path,
    harbor: LocalHarbor,
    robot: Robot,
    sigstore: LocalSigstore,
) -> None:
    service = f"unsigned{uuid.uuid4().hex[:6]}"
    env = run_env(tmp_path, harbor, robot, sigstore, service)
    env["COSIGN"] = tool("cosign")  # and no ACTIONS_ID_TOKEN_REQUEST_*: no id-token permission
    inputs = read_inputs(env)
    with pytest.raises(OidcError, match="id-token: write"):
        pipeline.run(inputs, CONTEXT, Actions(env, io.StringIO()))
    repository = f"k1s0signing-service/{service}"
    assert tags(harbor, robot, repository) == ["1.4.0-89abcde"]
