"""Faults against the whole action (README: fault table): Harbor hanging past the client's
timeout on each operation the action uses, the OIDC token service answering 5xx, 429 or hanging,
the registry answering 5xx on every attempt, the Docker engine going away mid-build. Each is
retried where transient, then ends in one clear line, with nothing promoted."""

from __future__ import annotations

import io
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import docker
import pytest
import requests

from k1s0_action import pipeline
from k1s0_action.context import GitContext
from k1s0_action.errors import ActionError, BuildError, OidcError, ScanGateError
from k1s0_action.gha import Actions
from k1s0_action.inputs import read_inputs
from k1s0_action.outcome import RunOutcome
from k1s0_stack.dockerd import ExtraEngine
from k1s0_stack.faults import FaultProxy
from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.sigstore import LocalSigstore
from k1s0_stack.testimages import build_context
from tests.fixtures import BUSYBOX_IMAGE

pytestmark = pytest.mark.integration
PREFIX = "k1s0fault"
PROJECT = f"{PREFIX}-system"
NOSCAN_PREFIX = "k1s0faultns"
REPOSITORY = "k1s0-org/k1s0"
HANG = 3.5  # seconds a hanging Harbor takes, past the client's read timeout below
TIMEOUT = (2.0, 2.0)  # the Harbor client's (connect, read) timeout in these runs


@dataclass
class Stack:
    harbor: LocalHarbor
    robot: Robot
    noscan_robot: Robot
    sigstore: LocalSigstore


@pytest.fixture(scope="module")
def stack(harbor: LocalHarbor, sigstore: LocalSigstore) -> Iterator[Stack]:
    harbor.create_project(PROJECT)
    harbor.create_project(f"{NOSCAN_PREFIX}-system", auto_scan=False)
    yield Stack(
        harbor,
        harbor.create_robot(PROJECT, f"f{uuid.uuid4().hex[:6]}"),
        harbor.create_robot(f"{NOSCAN_PREFIX}-system", f"f{uuid.uuid4().hex[:6]}"),
        sigstore,
    )
    harbor.clear_faults()


@pytest.fixture(autouse=True)
def _clear(harbor: LocalHarbor) -> Iterator[None]:
    yield
    harbor.clear_faults()


def git(ref: str = "refs/heads/main") -> GitContext:
    return GitContext(
        event_name="push",
        ref=ref,
        sha=uuid.uuid4().hex + uuid.uuid4().hex[:8],
        head_ref="",
        default_branch="main",
        repository=REPOSITORY,
        workflow_ref=f"{REPOSITORY}/.github/workflows/image.yml@refs/heads/main",
    )


def run(
    stack: Stack,
    tmp_path: Path,
    kind: str = "clean",
    ref: str = "refs/heads/main",
    noscan: bool = False,
    env: dict[str, str] | None = None,
    dockerfile: str = "",
    token_timeout: float = 30.0,
    again: tuple[str, GitContext] | None = None,
    **inputs: str,
) -> tuple[ActionError | RunOutcome, str, str, GitContext]:
    """`again`: the (service, git context) of an earlier run, re-run."""
    service = again[0] if again else f"f-{uuid.uuid4().hex[:8]}"
    context = build_context(kind, tmp_path / "ctx")
    if dockerfile:
        (context / "Dockerfile").write_text(dockerfile)
    robot = stack.noscan_robot if noscan else stack.robot
    values = {
        "INPUT_SERVICE": service,
        "INPUT_LAYER": "system",
        "INPUT_VERSION": "1.0.0",
        "INPUT_REGISTRY": stack.harbor.registry_host,
        "INPUT_PROJECT-PREFIX": NOSCAN_PREFIX if noscan else PREFIX,
        "INPUT_CONTEXT": str(context),
        "INPUT_HARBOR-URL": stack.harbor.url,
        "INPUT_HARBOR-USERNAME": robot.name,
        "INPUT_HARBOR-PASSWORD": robot.secret,
        "INPUT_SIGN": "false",
        "INPUT_FULCIO-URL": stack.sigstore.fulcio_url,
        "INPUT_REKOR-URL": stack.sigstore.rekor_url,
        "INPUT_TRUSTED-ROOT": str(stack.sigstore.trusted_root_path),
        "INPUT_TLOG-UPLOAD": "false",
        "INPUT_CERTIFICATE-OIDC-ISSUER": stack.sigstore.oidc_url,
        "GITHUB_WORKSPACE": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        **{f"INPUT_{k.upper()}": v for k, v in inputs.items()},
        **(env or {}),
    }
    settings = read_inputs(values)
    settings = replace(
        settings,
        harbor=replace(settings.harbor, timeout=TIMEOUT),
        signing=replace(settings.signing, token_timeout=token_timeout),
    )
    stream = io.StringIO()
    context_ = again[1] if again else git(ref)
    try:
        result: ActionError | RunOutcome = pipeline.run(settings, context_, Actions(values, stream))
    except ActionError as error:
        result = error
    return result, stream.getvalue(), service, context_


def release_tags(stack: Stack, service: str, noscan: bool = False) -> set[str]:
    project = f"{NOSCAN_PREFIX}-system" if noscan else PROJECT
    listed = requests.get(
        f"{stack.harbor.api}/projects/{project}/repositories/{service}/artifacts",
        params={"with_tag": "true"},
        auth=stack.harbor.admin,
        timeout=10,
    )
    if listed.status_code == 404:
        return set()
    return {
        t["name"]
        for a in listed.json()
        for t in a.get("tags") or []
        if t["name"] in ("1.0.0", "latest")
    }


def one_clear_line(result: object) -> str:
    assert isinstance(result, ActionError), result
    message = result.diagnostics()
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("operation", "where"),
    [
        ("getArtifact", {}),  # the release check, before the build
        ("getArtifact", {"ref": "refs/heads/feature/x"}),  # the scan wait (no release check)
        ("getProject", {}),
        ("listArtifacts", {}),
        ("getVulnerabilitiesAddition", {}),
        ("getSystemCVEAllowlist", {}),
        ("scanArtifact", {"noscan": True}),
        ("createTag", {}),
    ],
)
def test_harbor_hanging_past_the_client_timeout(
    stack: Stack, tmp_path: Path, operation: str, where: dict[str, object]
) -> None:
    # It hangs, then fails the request: nothing it was asked to do is done.
    stack.harbor.inject_fault(operation, status=503, hang=HANG, count=1000)
    result, log, service, _ = run(stack, tmp_path, **where)  # type: ignore[arg-type]
    message = one_clear_line(result)
    assert f"Harbor {operation}: ReadTimeout" in message, message
    assert "gave up after 6 attempts" in message
    assert "retry 1 in" in log  # retried before giving up
    stack.harbor.clear_faults()  # so that the test itself can list the tags
    assert release_tags(stack, service, bool(where.get("noscan"))) == set()


def test_a_tag_harbor_made_after_the_client_gave_up_is_settled_by_the_rerun(
    stack: Stack, tmp_path: Path
) -> None:
    # Harbor hangs but then does the work: `1.0.0` exists though the run failed on it, and the
    # retries' 409 answers come too late to be read. The re-run finds this commit's release and
    # adds what is missing (`latest`) without building.
    stack.harbor.inject_fault("createTag", status=None, hang=HANG, count=1000)
    result, _, service, context = run(stack, tmp_path)
    assert "Harbor createTag: ReadTimeout" in one_clear_line(result)
    stack.harbor.clear_faults()
    made = release_tags(stack, service)
    assert made <= {"1.0.0"}
    rerun, _, _, _ = run(stack, tmp_path / "again", again=(service, context))
    assert isinstance(rerun, RunOutcome), rerun
    assert rerun.already_released == ("1.0.0" in made)
    assert release_tags(stack, service) == {"1.0.0", "latest"}


def test_harbor_hanging_on_delete_tag_of_a_blocked_image(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.harbor.inject_fault("deleteTag", status=503, hang=HANG, count=1000)
    result, _, service, _ = run(stack, tmp_path, kind="critical")
    message = one_clear_line(result)
    assert isinstance(result, ScanGateError) and "blocked" in message
    # A warning (a workflow command, on stdout): the block is what the user must fix.
    assert "::warning::could not remove the tag" in capsys.readouterr().out
    assert release_tags(stack, service) == set()


@pytest.fixture
def token_proxy(stack: Stack) -> Iterator[FaultProxy]:
    proxy = FaultProxy(stack.sigstore.oidc_url).start()
    yield proxy
    proxy.stop()


@pytest.mark.parametrize(
    ("status", "hang", "says"),
    [(503, 0.0, "HTTP 503"), (429, 0.0, "HTTP 429"), (503, 3.0, "ReadTimeout")],
    ids=["5xx", "429", "hang"],
)
def test_oidc_token_service_failing(
    stack: Stack,
    tmp_path: Path,
    token_proxy: FaultProxy,
    status: int,
    hang: float,
    says: str,
) -> None:
    token_proxy.status, token_proxy.hang = status, hang
    token_proxy.fail_next(1000, "/_apis/")
    issued = stack.sigstore.issue_env(workflow_claims(REPOSITORY))
    env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": issued["ACTIONS_ID_TOKEN_REQUEST_URL"].replace(
            stack.sigstore.oidc_url, token_proxy.url
        ),
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issued["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
        "COSIGN": tool("cosign"),
        "INPUT_SIGN": "true",
    }
    result, log, service, _ = run(stack, tmp_path, env=env, token_timeout=1.0)
    message = one_clear_line(result)
    assert isinstance(result, OidcError), message
    assert "kept failing" in message and says in message
    assert token_proxy.injected() == 4  # retried: four requests, then the one line
    assert "retry 3 in" in log
    assert release_tags(stack, service) == set()


def test_registry_answering_5xx_on_every_attempt(stack: Stack, tmp_path: Path) -> None:
    stack.harbor.inject_fault("registry:manifest-put", status=503, count=1000)
    result, log, service, _ = run(stack, tmp_path)
    message = one_clear_line(result)
    assert "503" in message and "gave up after 5 attempts" in message
    assert "retry 4 in" in log
    assert release_tags(stack, service) == set()


@pytest.fixture
def doomed_engine(docker_api: docker.APIClient) -> Iterator[ExtraEngine]:
    engine = ExtraEngine().start()
    try:
        engine.load_image(docker_api, BUSYBOX_IMAGE)
        yield engine
    finally:
        engine.stop()


def test_the_docker_engine_going_away_mid_build(
    stack: Stack, tmp_path: Path, doomed_engine: ExtraEngine
) -> None:
    outcome: list[tuple[ActionError | RunOutcome, str, str, GitContext]] = []
    dockerfile = f"FROM {BUSYBOX_IMAGE}\nRUN echo started && sleep 20\n"
    worker = threading.Thread(
        target=lambda: outcome.append(
            run(stack, tmp_path, env=doomed_engine.env(), dockerfile=dockerfile)
        )
    )
    worker.start()
    client = doomed_engine.client()
    deadline = time.monotonic() + 120
    while not client.containers(all=True):  # the RUN step's container: the build is under way
        assert worker.is_alive() and time.monotonic() < deadline, outcome
        time.sleep(0.2)
    doomed_engine.kill()
    worker.join(120)
    ((result, log, service, _),) = outcome
    assert "started" in log  # the build was streaming when the engine went
    message = one_clear_line(result)
    assert isinstance(result, BuildError)
    assert "lost the Docker engine during the build" in message
    assert release_tags(stack, service) == set()
    shutil.rmtree(tmp_path / "ctx", ignore_errors=True)
