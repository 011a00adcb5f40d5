"""`k1s0-image gate IMAGE@DIGEST` against LocalHarbor: images pushed by another tool (the registry
API, no build) with known Trivy findings, judged with the action's settings."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import requests

from k1s0_action.cli import main
from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.testimages import FIXTURE_CVES, _upload_blob, build_context

pytestmark = pytest.mark.integration


def push(harbor: LocalHarbor, project: str, robot: Robot, kind: str, tmp: Path) -> str:
    """An image of one layer, the fixture `kind`'s root filesystem, pushed with the registry API
    the way tools other than the action push (config with its diff_id, so Trivy reads the
    layer); returns IMAGE@DIGEST."""
    rootfs = build_context(kind, tmp / kind) / "rootfs"
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        tar.add(rootfs, arcname=".")
    layer = tar_bytes.getvalue()
    gzipped = gzip.compress(layer, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()],
            },
        }
    ).encode()
    repository, auth = f"{project}/svc", (robot.name, robot.secret)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _upload_blob(harbor.url, repository, config, auth),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _upload_blob(harbor.url, repository, gzipped, auth),
                "size": len(gzipped),
            }
        ],
    }
    response = requests.put(
        f"{harbor.url}/v2/{repository}/manifests/{kind}",
        data=json.dumps(manifest).encode(),
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        auth=auth,
        timeout=30,
    )
    response.raise_for_status()
    return f"{harbor.registry_host}/{repository}@{response.headers['Docker-Content-Digest']}"


def gate(
    harbor: LocalHarbor, robot: Robot, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, object], str]:
    env = {"HARBOR_USERNAME": robot.name, "HARBOR_PASSWORD": robot.secret}
    code = main(["gate", *args, "--harbor-url", harbor.url, "--json"], env)
    out = capsys.readouterr().out
    last = out.rstrip("\n").rsplit("\n", 1)[-1]
    return code, json.loads(last) if last.startswith("{") else {}, out


def test_critical_image_is_blocked_and_clean_passes(
    harbor: LocalHarbor,
    harbor_project: str,
    harbor_robot: Robot,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    critical = push(harbor, harbor_project, harbor_robot, "critical", tmp_path)
    code, outcome, out = gate(harbor, harbor_robot, capsys, critical)
    assert code == 1
    assert outcome["verdict"] == "blocked"
    assert set(FIXTURE_CVES["critical"]) <= set(outcome["blocking"])  # type: ignore[arg-type]
    assert outcome["counts"]["critical"] >= 1  # type: ignore[index]
    assert "## Harbor scan gate" in out

    clean = push(harbor, harbor_project, harbor_robot, "clean", tmp_path)
    code, outcome, _ = gate(harbor, harbor_robot, capsys, clean)
    assert (code, outcome["verdict"], outcome["blocking"]) == (0, "passed", [])


def test_block_severities_is_a_threshold_and_ignore_cves_exact(
    harbor: LocalHarbor,
    harbor_project: str,
    harbor_robot: Robot,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    medium = push(harbor, harbor_project, harbor_robot, "medium", tmp_path)
    assert gate(harbor, harbor_robot, capsys, medium)[0] == 0
    code, outcome, _ = gate(harbor, harbor_robot, capsys, medium, "--block-severities", "low")
    assert (code, outcome["verdict"]) == (1, "blocked")
    ids = ",".join(FIXTURE_CVES["medium"])
    code, outcome, _ = gate(
        harbor, harbor_robot, capsys, medium, "--block-severities", "low", "--ignore-cves", ids
    )
    assert (code, outcome["verdict"]) == (0, "passed")
    code, _, _ = gate(
        harbor,
        harbor_robot,
        capsys,
        medium,
        "--block-severities",
        "low",
        "--ignore-cves",
        ids.lower(),
    )
    assert code == 1


@pytest.mark.parametrize("harbor_project", [{"auto_scan": False}], indirect=True)
def test_no_scan_is_started_unless_asked(
    harbor: LocalHarbor,
    harbor_project: str,
    harbor_robot: Robot,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = push(harbor, harbor_project, harbor_robot, "critical", tmp_path)
    code, outcome, _ = gate(harbor, harbor_robot, capsys, image)
    assert (code, outcome["verdict"], outcome["scan_status"]) == (1, "blocked", "None")
    assert "no scan" in str(outcome["note"])
    code, outcome, _ = gate(harbor, harbor_robot, capsys, image, "--on-scan-error", "warn")
    assert (code, outcome["verdict"]) == (0, "incomplete")
    code, outcome, _ = gate(harbor, harbor_robot, capsys, image, "--scan")
    assert (code, outcome["verdict"], outcome["scan_status"]) == (1, "blocked", "Success")


@pytest.mark.parametrize(
    "args",
    [
        ("not-an-image",),
        ("h/p/svc:1.0.0",),
        ("h/p/svc@sha256:" + "a" * 64, "--block-severities", "severe"),
        ("h/p/svc@sha256:" + "a" * 64, "--on-scan-error", "ignore"),
        ("h/p/svc@sha256:" + "a" * 64, "--scan-timeout", "soon"),
    ],
)
def test_bad_input_exits_2(args: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    env = {"HARBOR_USERNAME": "u", "HARBOR_PASSWORD": "p"}
    assert main(["gate", *args], env) == 2
    assert capsys.readouterr().err.startswith("error: input '")


def test_credentials_only_from_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "h/p/svc@sha256:" + "a" * 64], {}) == 2
    assert "HARBOR_USERNAME and HARBOR_PASSWORD" in capsys.readouterr().err
