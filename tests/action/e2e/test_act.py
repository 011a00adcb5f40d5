"""The action run as GitHub runs it: real workflow files under act, against the local stack
(Harbor-compatible server with its registry, OIDC token service, Fulcio)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from k1s0_action.cli import main as cli
from k1s0_action.harbor import HarborClient, HarborNotFoundError
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.process import tool
from k1s0_stack.sigstore import LocalSigstore
from k1s0_stack.testimages import FIXTURE_CVES, build_context
from tests.action.e2e.conftest import ACTION_REPOSITORY, E2E, SERVICE_REPOSITORY

pytestmark = pytest.mark.e2e

Run = Callable[..., E2E]


def harbor_tags(harbor: LocalHarbor, world: E2E) -> dict[str, str]:
    client = HarborClient(harbor.url, world.robot_name, world.robot_secret)
    try:
        return {
            tag: artifact.digest
            for artifact in client.list_artifacts(world.project, world.service)
            for tag in artifact.tags
        }
    except HarborNotFoundError:  # never pushed
        return {}


def errors(world: E2E) -> list[str]:
    assert world.result is not None
    return [line for line in world.result.log.splitlines() if "::error" in line]


def signature_verifies(
    harbor: LocalHarbor, sigstore: LocalSigstore, world: E2E, tmp: Path, *identity: str
) -> bool:
    """`k1s0-image verify` (real cosign) against the run's image reference."""
    assert world.result is not None
    config = tmp / "docker-config"
    config.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{world.robot_name}:{world.robot_secret}".encode()).decode()
    (config / "config.json").write_text(
        json.dumps({"auths": {harbor.registry_host: {"auth": auth}}})
    )
    env = {"COSIGN": tool("cosign"), "DOCKER_CONFIG": str(config), "HOME": str(tmp)}
    argv = [
        "verify",
        world.result.outputs["image-ref"],
        f"--certificate-oidc-issuer={sigstore.oidc_url}",
        f"--trusted-root={sigstore.trusted_root_path}",
        "--insecure-ignore-tlog",
        "--allow-http-registry",
        *identity,
    ]
    return cli(argv, env) == 0


def check_release(harbor: LocalHarbor, world: E2E) -> str:
    """Run 1's promises, shared with the parallel runs; returns the push tag."""
    result = world.result
    assert result is not None
    assert result.returncode == 0, result.log[-6000:]
    assert result.job_result == "success"
    outputs = result.outputs
    sha7 = outputs["push-tag"].rsplit("-", 1)[1]
    push_tag = f"1.4.0-{sha7}"
    assert re.fullmatch(r"[0-9a-f]{7}", sha7)
    assert outputs["image"] == f"{harbor.registry_host}/{world.repository}"
    assert outputs["push-tag"] == push_tag
    assert sorted(json.loads(outputs["tags"])) == sorted([push_tag, "1.4.0", "latest"])
    assert outputs["image-ref"] == f"{outputs['image']}@{outputs['digest']}"
    assert outputs["scan-status"] == "Success"
    assert outputs["signature"]
    tags = harbor_tags(harbor, world)
    for tag in (push_tag, "1.4.0", "latest"):
        assert tags[tag] == outputs["digest"]
    # the runner's summary file, as the action container wrote it
    assert outputs["digest"] in result.summary
    assert world.robot_secret not in result.log + result.summary + json.dumps(outputs)
    return push_tag


def test_uses_dot_on_a_push_to_main(
    e2e: Run, harbor: LocalHarbor, sigstore: LocalSigstore, tmp_path: Path
) -> None:
    """Run 1: `uses: ./` on a push to main: outputs, job summary, the push tag and the promoted
    tags in the registry, and a signature that verifies for this repository's workflow."""
    world = e2e("action-repo", "uses-action.yml", branch="main")
    check_release(harbor, world)
    # builder: auto in the action's image, which carries buildx: BuildKit built it, with the
    # cache written to Harbor (the image rules' local build first, then the push)
    assert world.result is not None
    assert re.search(r"::group::Build \S+ \(buildkit\)", world.result.log), world.result.log[-6000:]
    assert "exporting cache to registry" in world.result.log
    assert signature_verifies(
        harbor, sigstore, world, tmp_path, f"--repository={ACTION_REPOSITORY}"
    )
    # ... and the gate's scan and Harbor's SBOM as attestations from the same identity (issue 14)
    assert world.result is not None
    attested = json.loads(world.result.outputs["attestations"])
    assert [a["type"] for a in attested] == ["vuln", "spdxjson"]
    assert "cosign verify-attestation" in world.result.summary
    assert signature_verifies(
        harbor,
        sigstore,
        world,
        tmp_path,
        f"--repository={ACTION_REPOSITORY}",
        "--attestations=vuln,sbom",
        "--max-scan-age=7d",
    )
    assert not signature_verifies(harbor, sigstore, world, tmp_path, "--repository=k1s0-org/other")


def test_caller_workflow_on_a_feature_branch(
    e2e: Run, harbor: LocalHarbor, sigstore: LocalSigstore, tmp_path: Path
) -> None:
    """Run 2: a service's workflow calls the reusable workflow on a feature-branch push:
    `<branch>-<sha7>` only, and the called workflow's outputs reach the caller."""
    world = e2e("service-repo", "caller.yml", branch="feature/Auth-Login")
    result = world.result
    assert result is not None
    assert result.returncode == 0, result.log[-6000:]
    outputs = result.outputs  # as the caller's next job sees them
    push_tag = outputs["push-tag"]
    assert re.fullmatch(r"feature-auth-login-[0-9a-f]{7}", push_tag)
    assert json.loads(outputs["tags"]) == [push_tag]
    assert outputs["image"] == f"{harbor.registry_host}/{world.repository}"
    assert outputs["image-ref"] == f"{outputs['image']}@{outputs['digest']}"
    assert outputs["scan-status"] == "Success"
    image_tags = {
        tag: digest
        for tag, digest in harbor_tags(harbor, world).items()
        if not tag.endswith((".sig", ".att"))  # the signature and the attestations beside it
    }
    assert image_tags == {push_tag: outputs["digest"]}
    # signed as the called reusable workflow, run for the caller's repository
    reusable = re.escape(f"https://github.com/{ACTION_REPOSITORY}/.github/workflows/k1s0-image.yml")
    assert signature_verifies(
        harbor,
        sigstore,
        world,
        tmp_path,
        f"--certificate-identity-regexp=^{reusable}@refs/tags/v1$",
        f"--certificate-github-workflow-repository={SERVICE_REPOSITORY}",
    )


def test_critical_finding_fails_and_promotes_nothing(
    e2e: Run, harbor: LocalHarbor, tmp_path: Path
) -> None:
    """Run 3: an image with a Critical finding fails the job; no tag is left pointing at it."""
    context = build_context("critical", tmp_path / "critical")
    # A single-stage test image: the image rules (S1-S5, V4) have their own run below.
    world = e2e(
        "action-repo",
        "uses-action.yml",
        branch="main",
        context=context,
        extra_variables={"CONFORMANCE": "off"},
    )
    result = world.result
    assert result is not None
    assert result.returncode != 0
    assert result.job_result == "failure"
    assert any("blocked" in line for line in errors(world)), errors(world)
    assert harbor_tags(harbor, world) == {}  # push tag removed, nothing promoted
    for cve in FIXTURE_CVES["critical"]:
        assert cve in result.summary


def test_job_without_id_token_permission_fails_clearly(e2e: Run, harbor: LocalHarbor) -> None:
    """Run 4: the job forgot `id-token: write`: it fails naming the permission, and nothing is
    promoted (the build tag stays for inspection)."""
    world = e2e("action-repo", "uses-action-no-id-token.yml", branch="main")
    result = world.result
    assert result is not None
    assert result.returncode != 0
    assert any("id-token: write" in line for line in errors(world)), errors(world)
    tags = harbor_tags(harbor, world)
    assert list(tags) == [result.outputs.get("push-tag") or next(iter(tags))]
    assert all(tag.startswith("1.4.0-") for tag in tags)


def test_unknown_layer_fails_before_any_build(e2e: Run, harbor: LocalHarbor) -> None:
    """Run 5: a bad input fails the job with one clear error, before anything is built."""
    world = e2e("action-repo", "uses-action.yml", branch="main", layer="frontend")
    result = world.result
    assert result is not None
    assert result.returncode != 0
    assert result.job_result == "failure"
    assert any("input 'layer'" in line and "frontend" in line for line in errors(world))
    assert "::group::Build" not in result.log  # no build ever started
    assert harbor_tags(harbor, world) == {}


def test_parallel_runs_do_not_collide(e2e: Run, harbor: LocalHarbor) -> None:
    """Two runs of the same workflow at once, sharing the action image: each gets its own
    containers, its own outputs and its own summary."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        worlds = list(
            pool.map(
                lambda name: e2e("action-repo", "uses-action.yml", branch="main", name=name),
                ["first", "second"],
            )
        )
    results = [w.result for w in worlds]
    assert results[0] is not None and results[1] is not None
    assert results[0].run_id != results[1].run_id
    for world in worlds:
        check_release(harbor, world)
    assert f"{worlds[0].project}/" not in results[1].summary
    assert f"{worlds[1].project}/" not in results[0].summary


def test_a_second_release_says_what_changed_since_the_first(
    e2e: Run, harbor: LocalHarbor, tmp_path: Path
) -> None:
    """Release 1.4.0 of a clean image, then 1.5.0 with a Medium finding: the second run's job
    summary and `new-vulnerabilities` name the new finding against 1.4.0."""
    first = e2e(
        "action-repo",
        "uses-action.yml",
        version="1.4.0",
        context=build_context("clean", tmp_path / "clean"),
        name="first",
        extra_variables={"CONFORMANCE": "off"},  # a one-stage test image
    )
    assert first.result is not None
    assert first.result.returncode == 0, first.result.log[-6000:]
    assert "no previous release below this version" in first.result.summary
    second = e2e(
        "action-repo",
        "uses-action.yml",
        version="1.5.0",
        context=build_context("medium", tmp_path / "medium"),
        name="second",
        reuse=first,
        extra_variables={"CONFORMANCE": "off"},
    )
    result = second.result
    assert result is not None
    assert result.returncode == 0, result.log[-6000:]
    (cve,) = FIXTURE_CVES["medium"]
    previous = harbor_tags(harbor, second)["1.4.0"]
    assert "## Since the last release" in result.summary
    assert f"Since 1.4.0 ({previous[7:19]}): 1 new (1 medium), 0 fixed, 0 remaining" in (
        result.summary
    )
    assert re.search(rf"\| 🆕 new \| \[{cve}\]\([^)]*\) \| Medium \|", result.summary)
    new = json.loads(result.outputs["new-vulnerabilities"])
    assert [(v["id"], v["severity"]) for v in new] == [(cve, "medium")]


RESCAN_PERMISSIONS = (
    "pull",
    "scan",
    "project-read",
    "artifact-read",
    "artifact-addition-read",
    "artifact-list",
    "repository-read",
)


def test_the_rescan_workflow_rejudges_released_images(e2e: Run, harbor: LocalHarbor) -> None:
    """A release, then the reusable rescan workflow called from a platform repository: it
    rescans the released digest and passes; no tag moves."""
    release = e2e("action-repo", "uses-action.yml", version="1.4.0", name="release")
    check_release(harbor, release)
    before = harbor_tags(harbor, release)
    rescan = e2e(
        "service-repo",
        "rescan-caller.yml",
        name="rescan",
        reuse=release,
        permissions=RESCAN_PERMISSIONS,
    )
    result = rescan.result
    assert result is not None
    assert result.returncode == 0, result.log[-6000:]
    assert "1 deployable digests judged, 0 now failing the gate." in result.log
    row = f"| `{release.repository}` | `latest`, `1.4.0` | `{before['latest'][7:19]}` | rescanned"
    assert row in result.log
    assert harbor_tags(harbor, release) == before


def test_non_conforming_image_fails_before_the_push(
    e2e: Run, harbor: LocalHarbor, tmp_path: Path
) -> None:
    """Run 6: a service built FROM a plain base in one stage, running as root, exposing nothing:
    under the default `conformance: enforce` the job fails after the build and before the push,
    with one error per broken rule and the rule table in the job summary; Harbor has nothing."""
    context = tmp_path / "rootful"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM k1s0.local/busybox:1.35\nENV DB_PASSWORD=not-a-real-one\nCOPY app.sh /app.sh\n"
        'CMD ["/app.sh"]\n'
    )
    (context / "app.sh").write_text("#!/bin/sh\necho hi\n")
    world = e2e("action-repo", "uses-action.yml", branch="main", context=context)
    result = world.result
    assert result is not None
    assert result.returncode != 0
    assert result.job_result == "failure"
    lines = errors(world)
    for rule in ("S1: ", "S2: ", "S3: ", "S4: the last stage has no USER", "S5: ENV DB_PASSWORD"):
        assert any(rule in line for line in lines), (rule, lines)
    assert any("V4: the runtime image has a shell" in line for line in lines), lines
    assert any("was not pushed" in line for line in lines), lines
    assert re.search(r"::group::Build \S+ \(buildkit\)", result.log)  # it was built ...
    assert "::group::Push" not in result.log  # ... and never pushed
    assert harbor_tags(harbor, world) == {}
    for rule in ("| S1 |", "| S2 |", "| S3 |", "| S4 |", "| S5 |", "| V4 |"):
        assert rule in result.summary
    assert "hadolint: " in result.summary and "hadolint: not run" not in result.summary
    assert not any("not-a-real-one" in line for line in lines)
    assert "not-a-real-one" not in result.summary
