"""Real cosign (key pair, no transparency log: nothing leaves the machine) signing and verifying
through LocalHarbor: the legacy `sha256-<hex>.sig` tag and the sigstore bundle attached with the
OCI 1.1 referrers API both become signature accessories of the image."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.process import tool
from k1s0_stack.testimages import push_raw_image

pytestmark = pytest.mark.integration


def cosign(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    registry = ["--allow-insecure-registry", "--allow-http-registry"]
    return subprocess.run(
        [tool("cosign"), *args[:1], *registry, *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("mode", "sign_flags"),
    [
        ("bundle", ["--signing-config", "signing-config.json"]),
        (
            "legacy",
            ["--tlog-upload=false", "--new-bundle-format=false", "--use-signing-config=false"],
        ),
    ],
)
def test_cosign_signature_becomes_an_accessory(
    harbor: LocalHarbor,
    harbor_project: str,
    harbor_robot: Robot,
    tmp_path: Path,
    mode: str,
    sign_flags: list[str],
) -> None:
    digest = push_raw_image(
        harbor.url, f"{harbor_project}/signed", mode, (harbor_robot.name, harbor_robot.secret)
    )
    credential = base64.b64encode(f"{harbor_robot.name}:{harbor_robot.secret}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {harbor.registry_host: {"auth": credential}}})
    )
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path), "COSIGN_PASSWORD": ""}
    subprocess.run(
        [tool("cosign"), "generate-key-pair"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [tool("cosign"), "signing-config", "create", "--out", "signing-config.json"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    ref = f"{harbor.registry_host}/{harbor_project}/signed@{digest}"
    signed = cosign(["sign", "--key", "cosign.key", "-y", *sign_flags, ref], tmp_path, env)
    assert signed.returncode == 0, signed.stderr

    verify_flags = ["--new-bundle-format"] if mode == "bundle" else []
    verified = cosign(
        ["verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", *verify_flags, ref],
        tmp_path,
        env,
    )
    assert verified.returncode == 0, verified.stderr

    artifact = requests.get(
        f"{harbor.api}/projects/{harbor_project}/repositories/signed/artifacts/{digest}",
        params={"with_accessory": "true"},
        auth=(harbor_robot.name, harbor_robot.secret),
        timeout=10,
    ).json()
    assert [a["type"] for a in artifact["accessories"]] == ["signature.cosign"]
    listed = requests.get(
        f"{harbor.api}/projects/{harbor_project}/repositories/signed/artifacts",
        auth=(harbor_robot.name, harbor_robot.secret),
        timeout=10,
    ).json()
    assert [a["digest"] for a in listed] == [digest]
