"""The S3 templates build for real on the local engine, verbatim, as `k1s0-image init` writes them,
and the built images pass every image rule.

The public bases are the local stand-ins of scripts/standin-images.sh under their public names:
`rust:1.82-bookworm` carries this machine's Rust toolchain (cargo really compiles the service),
`node:22-bookworm` this machine's node and npm (`npm ci` really installs from the npm registry, so
that build uses the host network; the engine has no bridge), and `ghcr.io/cirruslabs/flutter:3.24.0`
is a `flutter` script that copies `web/` and does not compile Dart (no Flutter SDK can be had
here). The runtime bases are the distroless and nginx stand-ins. Every image and build-stage layer a
test makes is removed after it (the engine is vfs: each layer is a full copy of its file system).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from k1s0_action import cli, conformance, conformance_check
from tests.fixtures import BUSYBOX_IMAGE

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
BUILD_BASES = ("rust:1.82-bookworm", "node:22-bookworm", "ghcr.io/cirruslabs/flutter:3.24.0")
RUNTIME_BASES = ("gcr.io/distroless/cc-debian12:nonroot", "nginx:1.27-alpine")
# A step's image id in the classic builder's output (" ---> 1a2b3c4d5e6f").
STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12})$", re.MULTILINE)


@dataclass(frozen=True)
class Template:
    name: str
    service: str
    example: str  # examples/<example> holds the application sources the template builds
    layer: str
    domain: str = ""
    network: str = "none"  # the build's network: npm ci needs the registry


TEMPLATES = {
    t.name: t
    for t in (
        Template("rust", "auth", "rust-server", "system"),
        Template("react", "order-client", "react-client", "service", network="host"),
        Template("flutter-web", "ledger-client", "flutter-web-client", "business", "accounting"),
    )
}


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.APIClient]:
    """A client with a long read timeout: a vfs build step copies a 1 GB file system silently."""
    client = docker.APIClient(version="auto", timeout=1800)
    yield client
    client.close()


@pytest.fixture(scope="module")
def bases(engine: docker.APIClient) -> None:
    """The stand-ins of S3's build and runtime bases (scripts/standin-images.sh, idempotent)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "standin-images.sh")], check=True)
    for name in (*BUILD_BASES, *RUNTIME_BASES):
        labels = engine.inspect_image(name)["Config"]["Labels"] or {}
        assert "dev.k1s0.stand-in" in labels, f"{name} is not the local stand-in"


def service_from_template(template: Template, directory: Path) -> Path:
    """The example's application sources with the files `k1s0-image init` writes, written anew."""
    shutil.copytree(
        ROOT / "examples" / template.example,
        directory,
        ignore=shutil.ignore_patterns("Dockerfile", ".dockerignore", "nginx.conf", ".github"),
    )
    args = ["init", "--template", template.name, "--service", template.service]
    args += ["--dir", str(directory), "--layer", template.layer]
    if template.domain:
        args += ["--domain", template.domain]
    assert cli.main(args, env={}) == 0
    assert (directory / "Dockerfile").is_file()
    return directory


class Builds:
    """Builds with the classic builder and remembers every image a step made, to remove them."""

    def __init__(self, client: docker.APIClient) -> None:
        self.client = client
        self.tags: list[str] = []
        self.step_images: list[str] = []

    def build(self, context: Path, network: str, dockerfile: str = "Dockerfile") -> str:
        tag = f"k1s0.local/template-build:{uuid.uuid4().hex[:10]}"
        self.tags.append(tag)
        log: list[str] = []
        for chunk in self.client.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
            network_mode=network,
        ):
            text = str(chunk.get("stream", ""))
            log.append(text)
            self.step_images += STEP_IMAGE.findall(text)
            assert "error" not in chunk, "".join(log)[-4000:] + str(chunk)
        return tag

    def remove(self) -> None:
        for tag in self.tags:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.remove_image(tag, force=True)
        # Build-stage layers are no parent of the final image: remove those left untagged (a
        # step id can be a base image's, which keeps its tag and is never removed).
        for image in reversed(self.step_images):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                if not self.client.inspect_image(image).get("RepoTags"):
                    self.client.remove_image(image)


@pytest.fixture
def builds(engine: docker.APIClient, bases: None) -> Iterator[Builds]:
    made = Builds(engine)
    yield made
    made.remove()


def check(client: docker.APIClient, dockerfile: Path, image: str) -> list[conformance.RuleResult]:
    report = conformance_check.check(
        conformance_check.CheckRequest(dockerfile, conformance.Settings(), image=image),
        client=client,
    )
    return list(report.results)


def files_in(client: docker.APIClient, image: str, path: str) -> dict[str, bytes]:
    """The regular files under `path` in the image, from a created (never started) container."""
    container = client.create_container(image, network_disabled=True)
    try:
        stream, _ = client.get_archive(container, path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            return {
                member.name: (archive.extractfile(member) or io.BytesIO()).read()
                for member in archive.getmembers()
                if member.isfile()
            }
    finally:
        client.remove_container(container, force=True)


def assert_serves(engine: docker.APIClient, image: str) -> None:
    """The compiled service runs on the distroless stand-in and answers on 8080."""
    server = engine.create_container(
        image, host_config=engine.create_host_config(network_mode="none")
    )
    client = None
    try:
        engine.start(server)
        deadline = time.monotonic() + 60
        while b"listening on :8080" not in engine.logs(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert engine.logs(server).decode().strip() == "auth 1.4.0 listening on :8080"
        # The image has no shell or wget: ask from a busybox in the server's network namespace.
        client = engine.create_container(
            BUSYBOX_IMAGE,
            ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"],
            host_config=engine.create_host_config(network_mode=f"container:{server['Id']}"),
        )
        engine.start(client)
        assert engine.wait(client, timeout=60)["StatusCode"] == 0
        assert engine.logs(client, stderr=False).decode() == "ok\n"
    finally:
        for container in (client, server):
            if container is not None:
                engine.remove_container(container, force=True)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_each_template_builds_verbatim_and_its_image_passes_every_rule(
    name: str,
    builds: Builds,
    engine: docker.APIClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    template = TEMPLATES[name]
    service = service_from_template(template, tmp_path / "service")
    written = capsys.readouterr().out.splitlines()
    assert written[0] == str(service / "Dockerfile")
    image = builds.build(service, template.network)

    code = cli.main(
        ["conformance", "--context", str(service), "--image", image], env=dict(os.environ)
    )
    out, err = capsys.readouterr()
    assert (code, out) == (0, ""), err
    assert "applicable image rules hold" in err
    results = check(engine, service / "Dockerfile", image)
    assert [r for r in results if r.broken] == []
    checked = {(r.rule, r.source) for r in results if r.outcome == conformance.Outcome.PASSED}
    assert {("S4", "image"), ("V4", "image"), ("S1", "Dockerfile"), ("S3", "Dockerfile")} <= checked
    v4 = next(r for r in results if r.rule == "V4")
    assert ("no shell" if name == "rust" else "Alpine") in v4.found
    s5_cache = [r for r in results if r.check == "Rust dependency-caching layer"]
    if name == "rust":
        assert s5_cache[0].outcome == conformance.Outcome.PASSED
        assert_serves(engine, image)
    else:
        assert s5_cache[0].outcome == conformance.Outcome.NOT_APPLICABLE

    if name == "react":
        # vite's output, not the sources: index.html loads a bundled, hashed script.
        html = files_in(engine, image, "/usr/share/nginx/html")
        bundles = [n for n in html if re.fullmatch(r"html/assets/index-[\w-]+\.js", n)]
        assert bundles, sorted(html)
        assert b"react" in html[bundles[0]].lower()
    if name == "flutter-web":
        web = files_in(engine, image, "/usr/share/nginx/html")
        assert {"html/index.html", "html/main.dart.js", "html/flutter_bootstrap.js"} <= set(web)
        assert b'<base href="/">' in web["html/index.html"]


def test_the_rust_template_without_its_caching_layer_builds_and_breaks_s5(
    builds: Builds, engine: docker.APIClient, tmp_path: Path
) -> None:
    service = service_from_template(TEMPLATES["rust"], tmp_path / "service")
    written = (service / "Dockerfile").read_text()
    # The dependency build on a dummy main.rs goes; manifests and sources are then copied
    # together before the one `cargo build`, as a Dockerfile without the caching layer has it.
    naive, removed = re.subn(r"\nRUN mkdir src && echo (?:[^\n]*\\\n)*[^\n]*", "", written)
    assert removed == 1, written
    assert "fn main() {}" not in naive
    (service / "Dockerfile.naive").write_text(naive)
    image = builds.build(service, "none", dockerfile="Dockerfile.naive")

    results = check(engine, service / "Dockerfile.naive", image)
    assert [(r.rule, r.check) for r in results if r.broken] == [
        ("S5", "Rust dependency-caching layer")
    ]
    s5 = next(r for r in results if r.broken)
    assert s5.found == "`cargo build` has no dependency-caching layer before the sources are copied"
    assert naive.splitlines()[s5.line - 1].startswith("RUN cargo build --release --locked")
