"""The run attests the gated digest with the gate's scan (real cosign attest against the local
Fulcio, real Trivy behind LocalHarbor), before it promotes; `verify --attestations` accepts it and
refuses another identity, a tampered predicate and a scan older than allowed."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import shlex
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from k1s0_action import pipeline
from k1s0_action.attest import verify_attestations
from k1s0_action.cli import main
from k1s0_action.context import GitContext
from k1s0_action.errors import SigningError
from k1s0_action.gha import Actions
from k1s0_action.inputs import read_inputs
from k1s0_action.oidc import repository_identity_regexp
from k1s0_action.signing import (
    Cosign,
    RegistryAuth,
    SigstoreConfig,
    VerifyPolicy,
    cosign_env,
    docker_config,
)
from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.sigstore import LocalSigstore
from tests.fixtures import BUSYBOX_IMAGE

pytestmark = pytest.mark.integration

REPOSITORY = "k1s0-org/k1s0"
PROJECT = "k1s0attest-service"
SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2] / "stack/contract/cosign_vuln_predicate.schema.json"
    ).read_text()
)
CONTEXT = GitContext(
    event_name="push",
    ref="refs/heads/main",
    sha="89abcdef0123456789abcdef0123456789abcdef",
    head_ref="",
    default_branch="main",
    repository=REPOSITORY,
    run_id="78",
    workflow_ref=f"{REPOSITORY}/.github/workflows/image.yml@refs/heads/main",
)


@dataclass(frozen=True)
class Attested:
    ref: str
    repository: str  # inside the registry: project/name
    digest: str
    outputs: str
    robot: Robot
    docker_config: Path
    log: str


def run_pipeline(
    harbor: LocalHarbor, sigstore: LocalSigstore, work: Path, robot: Robot, **inputs: str
) -> Attested:
    service = f"attested{uuid.uuid4().hex[:6]}"
    context = work / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nLABEL dev.k1s0.test={service}\n")
    (work / "out").touch()
    env = {
        "INPUT_SERVICE": service,
        "INPUT_LAYER": "service",
        "INPUT_VERSION": "1.5.0",
        "INPUT_PROJECT-PREFIX": "k1s0attest",
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
        "GITHUB_OUTPUT": str(work / "out"),
        "GITHUB_WORKSPACE": str(work),
        "HOME": str(work),
        "PATH": "/usr/bin:/bin",
        **{f"INPUT_{name.upper().replace('_', '-')}": value for name, value in inputs.items()},
    }
    # The runner's token variables, in the environment the settings are read from.
    env |= sigstore.issue_env(workflow_claims(REPOSITORY, sha=CONTEXT.sha))
    env["COSIGN"] = tool("cosign")
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream):  # workflow commands go to stdout
        result = pipeline.run(read_inputs(env), CONTEXT, Actions(env, stream))
    assert result.pushed is not None and result.plan is not None
    config = docker_config(
        work / "docker", RegistryAuth(harbor.registry_host, robot.name, robot.secret)
    )
    return Attested(
        ref=result.pushed.reference,
        repository=result.plan.image.split("/", 1)[1],
        digest=result.pushed.digest,
        outputs=(work / "out").read_text(),
        robot=robot,
        docker_config=config,
        log=stream.getvalue(),
    )


@pytest.fixture(scope="module")
def robot(harbor: LocalHarbor) -> Robot:
    harbor.create_project(PROJECT)
    return harbor.create_robot(PROJECT, f"att{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def attested(
    harbor: LocalHarbor,
    sigstore: LocalSigstore,
    robot: Robot,
    tmp_path_factory: pytest.TempPathFactory,
) -> Attested:
    return run_pipeline(harbor, sigstore, tmp_path_factory.mktemp("attest"), robot)


@pytest.fixture(scope="module")
def without_sbom(
    harbor: LocalHarbor,
    sigstore: LocalSigstore,
    robot: Robot,
    tmp_path_factory: pytest.TempPathFactory,
) -> Attested:
    """A run against a Harbor that answers scan_type sbom with 422 (before 2.11, or a scanner
    without SBOM)."""
    harbor.sbom.enabled = False  # for this run only: module fixtures end with the module
    try:
        return run_pipeline(harbor, sigstore, tmp_path_factory.mktemp("nosbom"), robot)
    finally:
        harbor.sbom.enabled = True


def output(outputs: str, name: str) -> str:
    _, _, rest = outputs.partition(f"{name}<<")
    assert rest, f"no output {name}"
    delimiter, _, rest = rest.partition("\n")
    return rest.split(f"\n{delimiter}\n", 1)[0]


def registry_tags(harbor: LocalHarbor, robot: Robot, repository: str) -> list[str]:
    answer = requests.get(
        f"{harbor.url}/v2/{repository}/tags/list", auth=(robot.name, robot.secret), timeout=10
    )
    answer.raise_for_status()
    return sorted(answer.json().get("tags") or [])


def runner(attested: Attested) -> Cosign:
    return Cosign(
        path=tool("cosign"), env=cosign_env({}, attested.docker_config), actions=Actions({})
    )


def settings(sigstore: LocalSigstore) -> SigstoreConfig:
    return SigstoreConfig("", "", str(sigstore.trusted_root_path), False, ignore_sct=True)


def policy(sigstore: LocalSigstore, repository: str = REPOSITORY) -> VerifyPolicy:
    return VerifyPolicy(sigstore.oidc_url, repository_identity_regexp(repository))


def verified_statement(command: str, docker_config: Path) -> dict[str, Any]:
    """Runs a printed verify command as it stands (cosign from the tool cache)."""
    argv = shlex.split(command)
    done = subprocess.run(
        [tool("cosign"), *argv[1:]],
        env={"DOCKER_CONFIG": str(docker_config), "HOME": "/tmp"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    statement: dict[str, Any] = json.loads(
        base64.b64decode(json.loads(done.stdout.splitlines()[0])["payload"])
    )
    return statement


def test_the_run_leaves_signature_vuln_and_sbom_attestations_before_promoting(
    attested: Attested, harbor: LocalHarbor
) -> None:
    listed = json.loads(output(attested.outputs, "attestations"))
    assert [a["type"] for a in listed] == ["vuln", "spdxjson"]
    assert listed[0]["predicate-type"] == "https://cosign.sigstore.dev/attestation/vuln/v1"
    assert listed[1]["predicate-type"] == "https://spdx.dev/Document"
    tag = attested.digest.replace(":", "-")
    assert listed[0]["reference"].endswith(f":{tag}.att")
    tags = registry_tags(harbor, attested.robot, attested.repository)
    assert {f"{tag}.sig", f"{tag}.att", "latest"} <= set(tags)
    vuln = verified_statement(listed[0]["verify-command"], attested.docker_config)
    predicate = vuln["predicate"]
    jsonschema.validate(predicate, SCHEMA)
    assert predicate["scanner"]["result"]["gate"]["verdict"] == "passed"
    assert predicate["scanner"]["uri"] == "pkg:github/aquasecurity/trivy"
    sbom = verified_statement(listed[1]["verify-command"], attested.docker_config)
    assert sbom["predicateType"] == "https://spdx.dev/Document"
    assert sbom["subject"][0]["digest"]["sha256"] == attested.digest.removeprefix("sha256:")
    assert_valid_spdx(sbom["predicate"])
    assert not [line for line in attested.log.splitlines() if "does not generate SBOMs" in line]


def assert_valid_spdx(document: dict[str, Any]) -> None:
    """The SPDX project's own parser and validator (spdx-tools) on the attested SBOM."""
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    parsed = JsonLikeDictParser().parse(document)  # type: ignore[no-untyped-call]
    messages = validate_full_spdx_document(parsed)
    assert not messages, [m.validation_message for m in messages[:5]]
    assert any(p.name == "busybox" for p in parsed.packages) or parsed.packages


def test_harbor_shows_the_sbom_as_an_accessory(attested: Attested, harbor: LocalHarbor) -> None:
    project, _, name = attested.repository.partition("/")
    answer = requests.get(
        f"{harbor.api}/projects/{project}/repositories/{name}/artifacts/{attested.digest}",
        params={"with_sbom_overview": "true", "with_accessory": "true"},
        auth=(attested.robot.name, attested.robot.secret),
        timeout=10,
    )
    answer.raise_for_status()
    artifact = answer.json()
    overview = artifact["sbom_overview"]
    assert overview["scan_status"] == "Success"
    accessories = {a["digest"]: a["type"] for a in artifact["accessories"]}
    assert accessories[overview["sbom_digest"]] == "harbor.sbom"


def test_a_harbor_without_sbom_support_is_said_once_and_the_run_goes_on(
    without_sbom: Attested, harbor: LocalHarbor, sigstore: LocalSigstore
) -> None:
    notices = [line for line in without_sbom.log.splitlines() if "does not generate SBOMs" in line]
    assert len(notices) == 1
    assert notices[0].startswith("::notice title=SBOM")
    listed = json.loads(output(without_sbom.outputs, "attestations"))
    assert [a["type"] for a in listed] == ["vuln"]
    assert "latest" in registry_tags(harbor, without_sbom.robot, without_sbom.repository)
    env = {"COSIGN": tool("cosign"), "DOCKER_CONFIG": str(without_sbom.docker_config)}
    common = [*cli_args(without_sbom, sigstore), f"--repository={REPOSITORY}"]
    assert main([*common, "--attestations=vuln"], {**env, "HOME": "/tmp"}) == 0
    assert main([*common, "--attestations=vuln,sbom"], {**env, "HOME": "/tmp"}) == 1


def cli_args(attested: Attested, sigstore: LocalSigstore) -> list[str]:
    return [
        "verify",
        attested.ref,
        f"--certificate-oidc-issuer={sigstore.oidc_url}",
        f"--trusted-root={sigstore.trusted_root_path}",
        "--insecure-ignore-tlog",
        "--allow-http-registry",
    ]


def test_cli_verify_attestations(attested: Attested, sigstore: LocalSigstore) -> None:
    env = {
        "COSIGN": tool("cosign"),
        "DOCKER_CONFIG": str(attested.docker_config),
        "HOME": "/tmp",
    }
    common = [*cli_args(attested, sigstore), f"--repository={REPOSITORY}"]
    assert main([*common, "--attestations=vuln", "--max-scan-age=7d"], env) == 0
    assert main([*common, "--attestations=vuln", "--max-scan-age=seven"], env) == 2
    assert main([*common, "--max-scan-age=7d"], env) == 2  # age without the vuln attestation
    assert main([*common, "--attestations=vuln,sbom"], env) == 0
    assert main([*common, "--attestations=cyclonedx"], env) == 1  # Harbor made SPDX


def test_verify_attestations_refuses_another_identity(
    attested: Attested, sigstore: LocalSigstore
) -> None:
    with pytest.raises(SigningError, match="no vuln attestation that verifies for"):
        verify_attestations(
            runner(attested),
            attested.ref,
            ("vuln",),
            policy(sigstore, "k1s0-org/other"),
            settings(sigstore),
            True,
            None,
        )


def test_verify_attestations_refuses_a_scan_older_than_allowed(
    attested: Attested, sigstore: LocalSigstore
) -> None:
    args = (runner(attested), attested.ref, ("vuln",), policy(sigstore), settings(sigstore), True)
    assert verify_attestations(*args, timedelta(days=7))
    later = datetime.now(UTC) + timedelta(days=8)
    with pytest.raises(SigningError, match=r"older than the allowed 7\.0d"):
        verify_attestations(*args, timedelta(days=7), now=later)


# -- tampering: rewrite the predicate inside the stored attestation, keep its signature ----------


def _put_blob(harbor: LocalHarbor, auth: tuple[str, str], repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = requests.post(f"{harbor.url}/v2/{repository}/blobs/uploads/", auth=auth, timeout=10)
    started.raise_for_status()
    location = started.headers["Location"]
    if location.startswith("/"):
        location = harbor.url + location
    sep = "&" if "?" in location else "?"
    done = requests.put(
        f"{location}{sep}digest={digest}",
        data=data,
        auth=auth,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    done.raise_for_status()
    return digest


def tamper(harbor: LocalHarbor, attested: Attested, change: Any) -> None:
    auth = (attested.robot.name, attested.robot.secret)
    tag = attested.digest.replace(":", "-") + ".att"
    base = f"{harbor.url}/v2/{attested.repository}"
    accept = "application/vnd.oci.image.manifest.v1+json"
    answer = requests.get(
        f"{base}/manifests/{tag}", auth=auth, headers={"Accept": accept}, timeout=10
    )
    answer.raise_for_status()
    manifest = answer.json()
    layer = manifest["layers"][0]
    blob = requests.get(f"{base}/blobs/{layer['digest']}", auth=auth, timeout=10)
    blob.raise_for_status()
    envelope = json.loads(blob.content)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    change(statement["predicate"])
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    data = json.dumps(envelope).encode()
    layer["digest"] = _put_blob(harbor, auth, attested.repository, data)
    layer["size"] = len(data)
    put = requests.put(
        f"{base}/manifests/{tag}",
        data=json.dumps(manifest),
        auth=auth,
        headers={"Content-Type": manifest.get("mediaType", accept)},
        timeout=10,
    )
    put.raise_for_status()


def test_verify_attestations_refuses_a_tampered_predicate(
    attested: Attested, harbor: LocalHarbor, sigstore: LocalSigstore
) -> None:
    def newer_scan(predicate: dict[str, Any]) -> None:
        predicate["metadata"]["scanFinishedOn"] = "2099-01-01T00:00:00Z"

    tamper(harbor, attested, newer_scan)
    with pytest.raises(SigningError, match="no vuln attestation that verifies"):
        verify_attestations(
            runner(attested),
            attested.ref,
            ("vuln",),
            policy(sigstore),
            settings(sigstore),
            True,
            timedelta(days=7),
        )


@pytest.fixture(scope="module")
def cyclonedx(
    harbor: LocalHarbor,
    sigstore: LocalSigstore,
    robot: Robot,
    tmp_path_factory: pytest.TempPathFactory,
) -> Attested:
    """A run against a Harbor whose scanner makes CycloneDX."""
    harbor.sbom.format = "cyclonedx"
    try:
        return run_pipeline(harbor, sigstore, tmp_path_factory.mktemp("cyclonedx"), robot)
    finally:
        harbor.sbom.format = "spdx-json"


def test_a_cyclonedx_sbom_is_attested_as_cyclonedx(
    cyclonedx: Attested, sigstore: LocalSigstore
) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    listed = json.loads(output(cyclonedx.outputs, "attestations"))
    assert [a["type"] for a in listed] == ["vuln", "cyclonedx"]
    assert listed[1]["predicate-type"] == "https://cyclonedx.org/bom"
    statement = verified_statement(listed[1]["verify-command"], cyclonedx.docker_config)
    document = statement["predicate"]
    version = SchemaVersion.from_version(document["specVersion"])
    problem = JsonStrictValidator(version).validate_str(json.dumps(document))
    assert problem is None, problem
    env = {"COSIGN": tool("cosign"), "DOCKER_CONFIG": str(cyclonedx.docker_config), "HOME": "/tmp"}
    common = [*cli_args(cyclonedx, sigstore), f"--repository={REPOSITORY}"]
    assert main([*common, "--attestations=sbom"], env) == 0


def test_bundle_format_attestations_verify(
    harbor: LocalHarbor,
    sigstore: LocalSigstore,
    robot: Robot,
    tmp_path: Path,
) -> None:
    bundled = run_pipeline(harbor, sigstore, tmp_path, robot, signature_format="bundle")
    listed = json.loads(output(bundled.outputs, "attestations"))
    assert [a["type"] for a in listed] == ["vuln", "spdxjson"]
    env = {"COSIGN": tool("cosign"), "DOCKER_CONFIG": str(bundled.docker_config), "HOME": "/tmp"}
    common = [*cli_args(bundled, sigstore), f"--repository={REPOSITORY}"]
    assert main([*common, "--attestations=vuln,sbom", "--max-scan-age=7d"], env) == 0
    assert main([*common, "--attestations=cyclonedx"], env) == 1


def test_a_harbor_before_2_11_is_said_once_and_the_run_goes_on(
    harbor: LocalHarbor, sigstore: LocalSigstore, robot: Robot, tmp_path: Path
) -> None:
    harbor.sbom.before_2_11 = True  # 202 to scan_type sbom, and never an sbom_overview
    try:
        run = run_pipeline(harbor, sigstore, tmp_path, robot)
    finally:
        harbor.sbom.before_2_11 = False
    notices = [line for line in run.log.splitlines() if "shows no sbom_overview" in line]
    assert len(notices) == 1
    listed = json.loads(output(run.outputs, "attestations"))
    assert [a["type"] for a in listed] == ["vuln"]
    assert "latest" in registry_tags(harbor, run.robot, run.repository)
