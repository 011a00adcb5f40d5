"""The image rules on real images built by the local engine, passing and failing: a distroless-like
runtime without a shell (the local stand-in of gcr.io/distroless/cc-debian12, and a scratch image
with only a static binary), an Alpine-like busybox runtime (the stand-in of nginx:1.27-alpine),
root, a missing EXPOSE, a single stage, ENV DB_PASSWORD; then the action itself: under enforce a
non-conforming image is never pushed, under warn it is."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import requests

from k1s0_action import cli, conformance, conformance_check
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.runner import run_action
from tests.fixtures import BUSYBOX_IMAGE

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
DISTROLESS = "gcr.io/distroless/cc-debian12"
NGINX = "nginx:1.27-alpine"
STANDINS = (f"{DISTROLESS}:latest", f"{DISTROLESS}:nonroot", NGINX)
PROJECT = "k1s0conf-system"


@pytest.fixture(scope="module")
def standins(docker_api: docker.APIClient) -> None:
    """The local stand-ins of S3's runtime bases (scripts/standin-images.sh, idempotent)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "standin-images.sh")], check=True)
    for name in STANDINS:
        labels = docker_api.inspect_image(name)["Config"]["Labels"] or {}
        assert "dev.k1s0.stand-in" in labels, f"{name} is not the local stand-in"


@pytest.fixture(scope="module")
def static_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static x86-64 program (Go, no cgo) that prints one line: the 'service' of the images."""
    source = tmp_path_factory.mktemp("hello")
    (source / "go.mod").write_text("module hello\n\ngo 1.21\n")
    (source / "main.go").write_text(
        'package main\n\nimport "fmt"\n\n'
        'func main() { fmt.Println("hello from a static binary") }\n'
    )
    cache = Path(os.environ.get("K1S0_CACHE", Path.home() / ".cache" / "k1s0-image-action"))
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOOS": "linux",
        "GOARCH": "amd64",
        "GOCACHE": str(cache / "gocache"),
        "GOFLAGS": "-trimpath",
    }
    go = shutil.which("go") or "/usr/local/go/bin/go"
    subprocess.run(
        [go, "build", "-ldflags=-s -w", "-o", "hello", "."], cwd=source, env=env, check=True
    )
    return source / "hello"


Built = tuple[str, Path]  # (image reference, Dockerfile)
Build = Callable[[str], Built]


@pytest.fixture
def build(
    docker_api: docker.APIClient, standins: None, static_binary: Path, tmp_path: Path
) -> Iterator[Build]:
    made: list[str] = []

    def run(dockerfile: str) -> Built:
        context = tmp_path / f"ctx{len(made)}"
        context.mkdir()
        shutil.copy2(static_binary, context / "hello")
        (context / "Dockerfile").write_text(dockerfile)
        tag = f"k1s0.local/conformance-test:{uuid.uuid4().hex[:10]}"
        for chunk in docker_api.build(
            path=str(context), tag=tag, rm=True, forcerm=True, decode=True, network_mode="none"
        ):
            assert "error" not in chunk, chunk
        made.append(tag)
        return tag, context / "Dockerfile"

    yield run
    for tag in made:
        docker_api.remove_image(tag, force=True)


def check(
    docker_api: docker.APIClient, built: Built, settings: conformance.Settings | None = None
) -> dict[str, conformance.RuleResult]:
    image, dockerfile = built
    report = conformance_check.check(
        conformance_check.CheckRequest(dockerfile, settings or conformance.Settings(), image=image),
        client=docker_api,
    )
    return {f"{r.rule} {r.source} {r.check}": r for r in report.results}


def broken(results: dict[str, conformance.RuleResult]) -> list[str]:
    return [key for key, r in results.items() if r.broken]


DISTROLESS_OK = f"""\
FROM {BUSYBOX_IMAGE} AS build
COPY hello /out/hello
FROM {DISTROLESS}:nonroot
COPY --from=build /out/hello /app/hello
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/app/hello"]
"""


def test_distroless_like_runtime_without_a_shell_holds_every_rule(
    build: Build, docker_api: docker.APIClient
) -> None:
    built = build(DISTROLESS_OK)
    results = check(docker_api, built)
    assert broken(results) == []
    assert results["V4 image no needless tools"].found == "no shell and no package manager"
    assert (
        results["S4 image image runs as non-root"].found
        == "Config.User nonroot:nonroot (uid 65532)"
    )
    # The image really has no shell, and its binary runs without one.
    output = docker_api.create_container(built[0], network_disabled=True)
    try:
        docker_api.start(output)
        docker_api.wait(output, timeout=60)
        assert docker_api.logs(output).decode().strip() == "hello from a static binary"
    finally:
        docker_api.remove_container(output, force=True)


def test_scratch_with_only_a_static_binary(build: Build, docker_api: docker.APIClient) -> None:
    built = build(
        f"FROM {BUSYBOX_IMAGE} AS build\nCOPY hello /out/hello\nFROM scratch\n"
        "COPY --from=build /out/hello /hello\nUSER 65532:65532\nEXPOSE 8080\n"
        'ENTRYPOINT ["/hello"]\n'
    )
    # scratch is neither S3 base; an organisation that approves it gets every rule to hold.
    assert broken(check(docker_api, built)) == [
        "S2 Dockerfile runtime base",
        "S3 Dockerfile approved runtime base",
    ]
    approved = conformance.Settings(approved_bases=("scratch",))
    results = check(docker_api, built, approved)
    assert broken(results) == []
    assert results["V4 image no needless tools"].outcome is conformance.Outcome.PASSED


def test_alpine_like_busybox_runtime_is_accepted(
    build: Build, docker_api: docker.APIClient
) -> None:
    built = build(
        f"FROM {BUSYBOX_IMAGE} AS build\nRUN mkdir -p /out && echo '<p>hi</p>' > /out/index.html\n"
        f"FROM {NGINX}\nCOPY --from=build /out /usr/share/nginx/html\nUSER nginx\nEXPOSE 8080\n"
    )
    results = check(docker_api, built)
    assert broken(results) == []
    assert results["V4 image no needless tools"].found.startswith("Alpine: only busybox")
    assert "uid 101" in results["S4 image image runs as non-root"].found


def test_root_user_breaks_s4_in_the_dockerfile_and_the_image(
    build: Build, docker_api: docker.APIClient
) -> None:
    built = build(
        DISTROLESS_OK.replace("USER nonroot:nonroot\n", "").replace(":nonroot", ":latest")
    )
    results = check(docker_api, built)
    assert broken(results) == [
        "S4 Dockerfile USER in the last stage",
        "S4 image image runs as non-root",
    ]
    assert results["S4 image image runs as non-root"].message() == (
        "S4: the image runs as root (no Config.User); add `USER nonroot:nonroot` to the last stage"
    )


def test_missing_expose_breaks_s4_unless_the_image_serves_nothing(
    build: Build, docker_api: docker.APIClient
) -> None:
    built = build(DISTROLESS_OK.replace("EXPOSE 8080\n", ""))
    assert broken(check(docker_api, built)) == [
        "S4 Dockerfile EXPOSE the port",
        "S4 image image exposes the port",
    ]
    assert broken(check(docker_api, built, conformance.Settings(port=None))) == []


def test_single_stage_on_a_busybox_base_breaks_s1_s2_s3_and_v4(
    build: Build, docker_api: docker.APIClient
) -> None:
    built = build(f"FROM {BUSYBOX_IMAGE}\nCOPY hello /app/hello\nUSER 65532\nEXPOSE 8080\n")
    results = check(docker_api, built)
    assert broken(results) == [
        "S1 Dockerfile multi-stage build",
        "S2 Dockerfile runtime base",
        "S3 Dockerfile approved runtime base",
        "V4 image no needless tools",
    ]
    v4 = results["V4 image no needless tools"].found
    assert "a shell (/bin/sh, /bin/ash, /bin/busybox)" in v4
    assert "a package manager (/bin/dpkg, /bin/rpm)" in v4  # busybox's applets


def test_env_db_password_breaks_s5(build: Build, docker_api: docker.APIClient) -> None:
    built = build(DISTROLESS_OK.replace("USER", "ENV DB_PASSWORD=swordfish\nUSER"))
    results = check(docker_api, built)
    assert broken(results) == ["S5 Dockerfile no secrets in ARG/ENV"]
    assert "swordfish" not in results["S5 Dockerfile no secrets in ARG/ENV"].message()


def test_the_command_checks_a_local_image(
    build: Build, docker_api: docker.APIClient, capsys: pytest.CaptureFixture[str]
) -> None:
    image, dockerfile = build(DISTROLESS_OK.replace("USER nonroot:nonroot\n", "USER 0\n"))
    code = cli.main(["conformance", "--dockerfile", str(dockerfile), "--image", image], env={})
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [line.split(":")[0] for line in out] == ["S4", "S4"]
    assert out[1].startswith("S4: the image runs as root (Config.User '0')")
    missing = ["conformance", "--dockerfile", str(dockerfile), "--image", "k1s0.local/none:0"]
    assert cli.main(missing, env={}) == 2
    assert "is not an image on the Docker engine" in capsys.readouterr().err


# -- the action: nothing non-conforming reaches Harbor under enforce ---------------------------


@pytest.fixture(scope="module")
def robot(harbor: LocalHarbor) -> tuple[str, str]:
    harbor.create_project(PROJECT, auto_scan=True)
    created = harbor.create_robot(PROJECT, f"conf{uuid.uuid4().hex[:6]}")
    return created.name, created.secret


def action_inputs(harbor: LocalHarbor, robot: tuple[str, str], service: str) -> dict[str, str]:
    return {
        "service": service,
        "layer": "system",
        "version": "1.0.0",
        "project-prefix": "k1s0conf",
        "registry": harbor.registry_host,
        "harbor-url": harbor.url,
        "harbor-username": robot[0],
        "harbor-password": robot[1],
        "context": "app",
        "sign": "false",
    }


def repositories(harbor: LocalHarbor) -> list[str]:
    listed = requests.get(
        f"{harbor.api}/projects/{PROJECT}/repositories",
        params={"page_size": "100"},
        auth=harbor.admin,
        timeout=10,
    )
    listed.raise_for_status()
    return [str(repository["name"]) for repository in listed.json()]


ROOTFUL = f'FROM {BUSYBOX_IMAGE}\nENV API_TOKEN=abc\nCOPY app.sh /app.sh\nCMD ["/app.sh"]\n'


@pytest.mark.usefixtures("standins")
def test_enforce_stops_a_non_conforming_image_before_the_push(
    harbor: LocalHarbor, robot: tuple[str, str], tmp_path: Path
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(ROOTFUL)
    (tmp_path / "app" / "app.sh").write_text("#!/bin/sh\necho hi\n")
    service = f"conf-{uuid.uuid4().hex[:8]}"
    run = run_action(tmp_path, action_inputs(harbor, robot, service))
    assert run.returncode == 1, run.text()
    rules = [line.split("::", 2)[2].split(":")[0] for line in run.errors]
    assert rules[:-1] == ["S1", "S2", "S3", "S4", "S4", "S5", "S4", "S4", "V4"]
    assert "was not pushed" in run.errors[-1]
    assert "::group::Push" not in run.stdout
    assert f"{PROJECT}/{service}" not in repositories(harbor)
    assert "| V4 | no needless tools | image | ❌ fail |" in run.summary
    assert "abc" not in "\n".join(run.errors)


@pytest.mark.usefixtures("standins")
def test_warn_pushes_with_warnings_and_the_table(
    harbor: LocalHarbor, robot: tuple[str, str], tmp_path: Path
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(ROOTFUL)
    (tmp_path / "app" / "app.sh").write_text("#!/bin/sh\necho hi\n")
    service = f"conf-{uuid.uuid4().hex[:8]}"
    inputs = {**action_inputs(harbor, robot, service), "conformance": "warn"}
    run = run_action(tmp_path, inputs)
    assert run.returncode == 0, run.text()
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert any("S1: the Dockerfile has a single stage" in line for line in warnings)
    assert "(conformance: warn, pushed anyway)" in run.summary
    assert f"{PROJECT}/{service}" in repositories(harbor)


@pytest.mark.usefixtures("standins")
def test_the_sample_service_conforms_and_is_pushed(
    harbor: LocalHarbor, robot: tuple[str, str], tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "examples" / "sample-service", tmp_path / "app")
    service = f"conf-{uuid.uuid4().hex[:8]}"
    run = run_action(tmp_path, action_inputs(harbor, robot, service))
    assert run.returncode == 0, run.text()
    assert "all rules hold" in run.summary
    assert not run.errors
