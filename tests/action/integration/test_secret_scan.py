"""The whole action, run as a runner runs it, with a hostile robot secret (`%`, `:`, `@`, `/`, a
newline, a `::` prefix): on every path — push, gate, sign, promote, and each way it can fail —
no byte it writes holds the secret or an encoding of it: log, outputs, job summary, SARIF, the
image's labels and signature, files left in the workspace and the temporary directory."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import docker
import pytest
import requests

from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.runner import DEFAULT_SHA, ActionRun, run_action
from k1s0_stack.sigstore import LocalSigstore
from k1s0_stack.testimages import build_context

pytestmark = pytest.mark.integration

HOSTILE = "::k1s0%2Fsecret:p@ss/w0rd%41\n::warning::2nd-line:@/%"
PREFIX = "k1s0sec"
PROJECT = f"{PREFIX}-system"
REPOSITORY = "k1s0-org/k1s0"


def encodings(secret: str, username: str) -> dict[str, str]:
    """Every form the secret could take on its way out."""
    forms = {
        "raw": secret,
        "percent": quote(secret, safe=""),
        "percent-path": quote(secret),
        "form": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "command": secret.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"),
        "base64": base64.b64encode(secret.encode()).decode(),
        "basic": base64.b64encode(f"{username}:{secret}".encode()).decode(),
        "basic-urlsafe": base64.urlsafe_b64encode(f"{username}:{secret}".encode()).decode(),
    }
    for number, line in enumerate(secret.splitlines()):
        forms[f"line {number}"] = line
    return forms


@dataclass
class World:
    harbor: LocalHarbor
    robot: Robot
    sigstore: LocalSigstore
    docker_api: docker.APIClient


@pytest.fixture(scope="module")
def world(
    harbor: LocalHarbor, sigstore: LocalSigstore, docker_api: docker.APIClient
) -> Iterator[World]:
    harbor.create_project(PROJECT)
    robot = harbor.create_robot(PROJECT, f"hostile{uuid.uuid4().hex[:6]}", secret=HOSTILE)
    assert robot.secret == HOSTILE
    yield World(harbor, robot, sigstore, docker_api)
    harbor.clear_faults()


def files_under(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path


def leaks(world: World, run: ActionRun, tmpdir: Path, service: str) -> list[str]:
    """Where any encoding of the secret shows up in what the run left."""
    texts: dict[str, str] = {
        # The runner consumes ::add-mask:: commands; they carry the secret by design.
        "log": "\n".join(
            line for line in run.stdout.splitlines() if not line.startswith("::add-mask::")
        ),
        "stderr": run.stderr,
        "outputs": json.dumps(run.outputs),
        "summary": run.summary,
    }
    for path in [*files_under(run.workspace), *files_under(tmpdir)]:
        texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    image = f"{world.harbor.registry_host}/{PROJECT}/{service}"
    for found in world.docker_api.images(name=image):
        texts[f"labels {found['Id']}"] = json.dumps(world.docker_api.inspect_image(found["Id"]))
    texts["registry"] = registry_content(world, service)
    forms = encodings(HOSTILE, world.robot.name)
    return [
        f"{form} form in {where}"
        for where, text in texts.items()
        for form, value in forms.items()
        if value in text
    ]


def registry_content(world: World, service: str) -> str:
    """Every manifest and config blob of the repository (image labels, signature annotations)."""
    auth = world.harbor.admin
    base = f"{world.harbor.url}/v2/{PROJECT}/{service}"
    listed = requests.get(f"{base}/tags/list", auth=auth, timeout=10)
    if listed.status_code == 404:
        return ""
    parts = []
    accept = ", ".join(
        [
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ]
    )
    for tag in listed.json().get("tags") or []:
        manifest = requests.get(
            f"{base}/manifests/{tag}", auth=auth, headers={"Accept": accept}, timeout=10
        ).json()
        parts.append(json.dumps(manifest))
        config = manifest.get("config", {}).get("digest")
        if config:
            parts.append(requests.get(f"{base}/blobs/{config}", auth=auth, timeout=10).text)
    return "\n".join(parts)


def run(
    world: World,
    tmp_path: Path,
    kind: str = "clean",
    sign: bool = True,
    token: bool = True,
    password: str = HOSTILE,
    dockerfile: str = "",
    **inputs: str,
) -> tuple[ActionRun, Path, str]:
    service = f"sec-{uuid.uuid4().hex[:8]}"
    workspace = tmp_path / "workspace"
    build_context(kind, workspace / "app")
    if dockerfile:
        (workspace / "app" / "Dockerfile").write_text(dockerfile)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir), "COSIGN": tool("cosign")}
    if token:
        claims = workflow_claims(REPOSITORY, sha=DEFAULT_SHA)
        env |= world.sigstore.issue_env(claims)
    done = run_action(
        workspace,
        {
            "service": service,
            "layer": "system",
            "version": "1.0.0",
            "registry": world.harbor.registry_host,
            "project-prefix": PREFIX,
            "context": "app",
            "harbor-url": world.harbor.url,
            "harbor-username": world.robot.name,
            "harbor-password": password,
            "sign": "true" if sign else "false",
            "fulcio-url": world.sigstore.fulcio_url,
            "rekor-url": world.sigstore.rekor_url,
            "trusted-root": str(world.sigstore.trusted_root_path),
            "tlog-upload": "false",
            "certificate-oidc-issuer": world.sigstore.oidc_url,
            "conformance": "off",  # one-stage test images; the rules are tested on their own
            **inputs,
        },
        repository=REPOSITORY,
        env=env,
    )
    return done, tmpdir, service


def test_push_gate_sign_promote(world: World, tmp_path: Path) -> None:
    done, tmpdir, service = run(world, tmp_path)
    assert done.returncode == 0, done.text()
    assert json.loads(done.outputs["tags"]) == [f"1.0.0-{DEFAULT_SHA[:7]}", "1.0.0", "latest"]
    assert done.outputs["signature"]
    assert not [p for p in tmpdir.iterdir() if p.name.startswith("k1s0-cosign-")]
    assert leaks(world, done, tmpdir, service) == []
    # The scan looks for what is really there: the masks the runner consumes carry the secret.
    masks = [line for line in done.stdout.splitlines() if line.startswith("::add-mask::")]
    forms = encodings(HOSTILE, world.robot.name)
    assert f"::add-mask::{forms['command']}" in masks
    assert f"::add-mask::{forms['basic']}" in masks


@pytest.mark.parametrize(
    ("case", "change", "says"),
    [
        ("blocked", {"kind": "critical"}, "blocked"),
        ("no OIDC token", {"token": False}, "id-token"),
        ("bad input", {"layer": "platform"}, "input 'layer'"),
        ("wrong secret", {"password": HOSTILE + "x"}, "harbor-password"),
        ("bad URL", {"harbor-url": f"https://robot:{quote(HOSTILE)}@h.example"}, "harbor-url"),
    ],
)
def test_failures(
    world: World, tmp_path: Path, case: str, change: dict[str, object], says: str
) -> None:
    done, tmpdir, service = run(world, tmp_path, **change)  # type: ignore[arg-type]
    assert done.returncode == 1, done.text()
    assert len(done.errors) == 1, done.stdout
    assert says in done.errors[0], done.errors
    assert leaks(world, done, tmpdir, service) == []


def test_build_failure(world: World, tmp_path: Path) -> None:
    dockerfile = "FROM k1s0.local/busybox:1.35\nRUN exit 3\n"
    done, tmpdir, service = run(world, tmp_path, dockerfile=dockerfile)
    assert done.returncode == 1, done.text()
    assert len(done.errors) == 1 and "returned a non-zero code: 3" in done.errors[0]
    assert leaks(world, done, tmpdir, service) == []


@pytest.mark.parametrize(
    ("operation", "says"),
    [("registry:manifest-put", "gave up after"), ("getProject", "gave up after")],
)
def test_transient_failures_on_every_attempt(
    world: World, tmp_path: Path, operation: str, says: str
) -> None:
    world.harbor.inject_fault(operation, status=503, count=1000)
    try:
        done, tmpdir, service = run(world, tmp_path, sign=False)
    finally:
        world.harbor.clear_faults()
    assert done.returncode == 1, done.text()
    assert len(done.errors) == 1, done.stdout
    assert says in done.errors[0]
    assert leaks(world, done, tmpdir, service) == []
