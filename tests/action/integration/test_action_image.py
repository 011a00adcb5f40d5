"""The action image as built from the Dockerfile (local stand-ins for the base, cosign and buildx,
no network): what its FROM-scratch runtime holds and leaves out, byte code only for what runs, that
the action finds buildx in it (so `builder: auto` means BuildKit), and what Trivy (the scanner
behind Harbor's gate) sees in it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import docker
import pytest

from k1s0_stack import buildkit
from k1s0_stack.action_image import ActionImage, build_action_image
from k1s0_stack.process import tool
from k1s0_stack.trivy import fixture_cache_dir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import importlib.util, json, os, shutil, sys
def pyc(name):
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec else None
    return bool(origin and os.path.exists(importlib.util.cache_from_source(origin)))
print(json.dumps({
    "sh": shutil.which("sh"),
    "missing": [m for m in ("pip", "setuptools", "ensurepip", "idlelib", "tkinter", "lib2to3")
                if importlib.util.find_spec(m) is not None],
    "pyc": {m: pyc(m) for m in ("json", "requests", "docker", "yaml", "k1s0_action.pipeline",
                                 "k1s0_action.signing", "imaplib", "pydoc", "smtplib")},
    "executable": sys.executable,
}))
"""


@pytest.fixture(scope="module")
def image(docker_api: docker.APIClient) -> ActionImage:
    return build_action_image(docker_api, ROOT)


def run(image: ActionImage, *argv: str, env: dict[str, str] | None = None) -> str:
    command = ["docker", "run", "--rm", "--network", "none"]
    for key, value in (env or {}).items():
        command += ["-e", f"{key}={value}"]
    done = subprocess.run(
        [*command, *argv[:2], image.reference, *argv[2:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return done.stdout + done.stderr


def probe(image: ActionImage) -> dict[str, Any]:
    out = run(image, "--entrypoint", "/opt/k1s0/bin/python3", "-c", PROBE)
    value = json.loads(out.strip().splitlines()[-1])
    assert isinstance(value, dict)
    return value


def test_the_runtime_has_no_shell_and_no_installers(image: ActionImage) -> None:
    found = probe(image)
    assert found["sh"] is None
    assert found["missing"] == []  # pip, setuptools, ensurepip, idle, tkinter, lib2to3: absent


def test_byte_code_only_for_the_modules_the_action_imports(image: ActionImage) -> None:
    pyc = probe(image)["pyc"]
    for module in ("json", "requests", "docker", "yaml", "k1s0_action.pipeline",
                   "k1s0_action.signing"):  # fmt: skip
        assert pyc[module], module
    for module in ("imaplib", "pydoc", "smtplib"):  # in the standard library, never imported
        assert not pyc[module], module


def test_the_action_starts_and_stops_at_its_first_check(image: ActionImage) -> None:
    out = run(
        image,
        env={
            "INPUT_SERVICE": "Not_Valid",
            "INPUT_LAYER": "system",
            "GITHUB_SHA": "0" * 40,
            "GITHUB_REF": "refs/heads/feature",
        },
    )
    errors = [line for line in out.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, out
    assert "Traceback" not in out


def test_cosign_runs_in_the_runtime(image: ActionImage) -> None:
    out = run(image, "--entrypoint", "/opt/k1s0/bin/cosign", "version")
    assert "v3.1.3" in out


def test_buildx_runs_in_the_runtime(image: ActionImage) -> None:
    out = run(image, "--entrypoint", "/opt/k1s0/bin/buildx", "version")
    # The tests' image carries scripts/buildkit.sh's build (the Dockerfile's default is a release).
    version = Path(buildkit.binary("buildx")).resolve().name.removeprefix("buildx-")
    assert out.startswith("github.com/docker/buildx " + version), out


FINDS_BUILDX = """
import json, os
from k1s0_action.builder import buildkit_endpoint
endpoint = buildkit_endpoint(os.environ)
print(json.dumps(endpoint and [endpoint.buildx, endpoint.address, endpoint.image]))
"""


def test_the_action_finds_buildx_in_its_image_so_auto_means_buildkit(image: ActionImage) -> None:
    out = run(image, "--entrypoint", "/opt/k1s0/bin/python3", "-c", FINDS_BUILDX)
    found = json.loads(out.strip().splitlines()[-1])
    # On PATH, and with no K1S0_BUILDKIT_HOST: BuildKit in its own container on the runner's
    # engine (buildx's docker-container driver), the pinned moby/buildkit image.
    assert found == ["/opt/k1s0/bin/buildx", "", "moby/buildkit:v0.34.2"]


def test_trivy_sees_the_debian_packages_the_python_packages_cosign_and_buildx(
    image: ActionImage, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    subprocess.run(
        [tool("trivy"), "image", "--quiet", "--image-src", "docker", "--cache-dir",
         str(fixture_cache_dir()), "--skip-db-update", "--skip-java-db-update", "--offline-scan",
         "--scanners", "vuln", "--list-all-pkgs", "--format", "json", "--output", str(report),
         image.reference],
        check=True, timeout=600,
    )  # fmt: skip
    found = json.loads(report.read_text())
    assert found["Metadata"]["OS"]["Family"] == "debian"
    packages = {
        result["Type"]: {p["Name"] for p in result.get("Packages") or []}
        for result in found["Results"]
    }
    assert {"libc6", "libssl3", "zlib1g"} <= packages["debian"]
    assert {"requests", "docker", "urllib3", "PyYAML"} <= packages["python-pkg"]
    go_modules = {
        result["Target"]: {p["Name"] for p in result.get("Packages") or []}
        for result in found["Results"]
        if result["Type"] == "gobinary"
    }
    assert "github.com/sigstore/cosign/v3" in go_modules["opt/k1s0/bin/cosign"]
    # buildx's modules, BuildKit's client among them, reach the gate too.
    assert {"github.com/docker/buildx", "github.com/moby/buildkit"} <= go_modules[
        "opt/k1s0/bin/buildx"
    ]
