"""Issue 16 against real parts: the action builds with a real BuildKit (buildkitd + buildx, built by
scripts/buildkit.sh) and pushes to LocalHarbor; the build cache goes to and comes from Harbor;
a missing or unreadable cache means a cold build with a warning; a multi-platform build pushes an
OCI image index whose every platform image the gate judges (the arm64 one under QEMU)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import requests

from k1s0_action import builder
from k1s0_stack import buildkit
from k1s0_stack.buildkit import LocalBuildKit
from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.runner import DEFAULT_SHA, ActionRun, run_action
from k1s0_stack.sigstore import LocalSigstore
from k1s0_stack.testimages import build_context, push_raw_image

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-service"
BUSYBOX = "k1s0.local/busybox:1.35"
NGINX = "nginx:1.27-alpine"  # the sample's runtime base: a local stand-in (standin-images.sh)
INDEX = "application/vnd.oci.image.index.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = ", ".join(
    [
        INDEX,
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class Project:
    harbor: LocalHarbor
    prefix: str
    robot: Robot

    @property
    def name(self) -> str:
        return f"{self.prefix}-service"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.robot.name, self.robot.secret)

    def repository(self, service: str) -> str:
        return f"{self.name}/{service}"

    def manifest(self, repository: str, reference: str) -> requests.Response:
        return requests.get(
            f"{self.harbor.url}/v2/{repository}/manifests/{reference}",
            headers={"Accept": ACCEPT},
            auth=self.auth,
            timeout=10,
        )

    def artifact(self, repository: str, reference: str) -> dict[str, object]:
        name = repository.split("/", 1)[1].replace("/", "%2F")
        answer = requests.get(
            f"{self.harbor.api}/projects/{self.name}/repositories/{name}/artifacts/{reference}",
            params={"with_tag": "true", "with_scan_overview": "true"},
            auth=self.harbor.admin,
            timeout=10,
        )
        answer.raise_for_status()
        body: dict[str, object] = answer.json()
        return body


@pytest.fixture(scope="module")
def project(harbor: LocalHarbor) -> Project:
    if not buildkit.available():
        pytest.fail("BuildKit is not installed: run scripts/buildkit.sh (scripts/setup.sh does)")
    prefix = f"k1s0bk{uuid.uuid4().hex[:6]}"
    harbor.create_project(f"{prefix}-service", auto_scan=True)
    return Project(harbor, prefix, harbor.create_robot(f"{prefix}-service", "ci"))


@pytest.fixture(scope="module")
def base_image(project: Project, docker_api: docker.APIClient) -> str:
    """The busybox base in Harbor: buildkitd pulls its bases from a registry."""
    from k1s0_action import engine

    repository = f"{project.harbor.registry_host}/{project.name}/busybox"
    docker_api.tag(BUSYBOX, repository, "1.35")
    creds = engine.Credentials(project.harbor.registry_host, *project.harbor.admin)
    engine.push(docker_api, repository, "1.35", creds, lambda _: None)
    return f"{repository}:1.35"


@pytest.fixture(scope="module")
def runtime_image(project: Project, docker_api: docker.APIClient) -> str:
    """The sample's runtime base in Harbor too, for the same reason."""
    from k1s0_action import engine

    repository = f"{project.harbor.registry_host}/{project.name}/nginx"
    docker_api.tag(NGINX, repository, "1.27-alpine")
    creds = engine.Credentials(project.harbor.registry_host, *project.harbor.admin)
    engine.push(docker_api, repository, "1.27-alpine", creds, lambda _: None)
    return f"{repository}:1.27-alpine"


@pytest.fixture
def fresh_builder(
    tmp_path_factory: pytest.TempPathFactory, harbor: LocalHarbor
) -> Iterator[LocalBuildKit]:
    """A buildkitd with an empty data directory: what a hosted runner starts every job with."""
    daemon = LocalBuildKit(
        Path(tmp_path_factory.mktemp("buildkitd")), insecure_registries=(harbor.registry_host,)
    ).start()
    yield daemon
    daemon.stop()


def workspace(tmp_path: Path, runtime: str) -> Path:
    """The sample service, its runtime base taken from Harbor (an approved base there)."""
    shutil.copytree(SAMPLE, tmp_path / "app")
    dockerfile = tmp_path / "app" / "Dockerfile"
    text = dockerfile.read_text()
    assert f"FROM {NGINX} " in text
    dockerfile.write_text(text.replace(f"FROM {NGINX} ", f"FROM {runtime} "))
    return tmp_path


def inputs(project: Project, service: str, base: str, **more: str) -> dict[str, str]:
    runtime = f"{project.harbor.registry_host}/{project.name}/nginx:1.27-alpine"
    return {
        "approved-bases": runtime,
        "service": service,
        "layer": "service",
        "version": "1.0.0",
        "project-prefix": project.prefix,
        "registry": project.harbor.registry_host,
        "harbor-url": project.harbor.url,
        "context": "app",
        "build-args": f"BASE_IMAGE={base}",
        "harbor-username": project.robot.name,
        "harbor-password": project.robot.secret,
        "builder": "buildkit",
        "sign": "false",
        **more,
    }


def warnings(run: ActionRun) -> list[str]:
    return [line for line in run.stdout.splitlines() if line.startswith("::warning")]


def cache_warnings(run: ActionRun) -> list[str]:
    return [line for line in warnings(run) if "Build cache" in line]


def run_on_fresh_builder(
    space: Path,
    given: dict[str, str],
    project: Project,
    tmp_path_factory: pytest.TempPathFactory,
    snapshotter: str = "",
) -> ActionRun:
    """The action on a runner whose BuildKit starts empty, as every hosted job's does."""
    with LocalBuildKit(
        Path(tmp_path_factory.mktemp("bk")),
        (project.harbor.registry_host,),
        snapshotter=snapshotter,
    ) as daemon:
        return run_action(space, given, env=daemon.env())


def test_the_cache_goes_to_harbor_and_a_fresh_builder_reuses_it(
    tmp_path: Path,
    project: Project,
    base_image: str,
    runtime_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    service = f"cache-{uuid.uuid4().hex[:6]}"
    space = workspace(tmp_path, runtime_image)
    first = run_on_fresh_builder(
        space, inputs(project, service, base_image), project, tmp_path_factory
    )
    assert first.returncode == 0, first.text()
    assert "::group::Build" in first.stdout and "(buildkit)" in first.stdout
    # The first build of an image has no cache yet: a cold build and a warning, not a failure.
    assert cache_warnings(first), first.stdout

    cache = f"{project.repository(service)}{builder.CACHE_SUFFIX}"
    cached = project.manifest(cache, builder.CACHE_TAG)
    assert cached.status_code == 200, cached.text
    manifest = cached.json()
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.buildkit.cacheconfig.v0"
    # Every cache layer in gzip, as the images' own: layers built from the cache then keep the
    # digests of a cold build (a zstd cache put zstd layers into the image; builder.py).
    assert {layer["mediaType"] for layer in manifest["layers"]} == {GZIP_LAYER}
    # Harbor does not scan a cache (an UNKNOWN artifact), so it never holds up Trivy.
    assert not project.artifact(cache, builder.CACHE_TAG).get("scan_overview")
    # The image itself is a plain OCI image (no attestation index) that Harbor scans.
    image = project.manifest(project.repository(service), first.outputs["digest"]).json()
    assert image["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert first.outputs["scan-status"] == "Success"

    # A new commit on a runner with an empty builder: the dependency stage comes from Harbor.
    (space / "app" / "src" / "VERSION").write_text("0.2.0\n")
    second = run_on_fresh_builder(
        space, inputs(project, service, base_image, version="1.0.1"), project, tmp_path_factory
    )
    assert second.returncode == 0, second.text()
    assert not cache_warnings(second), second.stdout
    assert "importing cache manifest from" in second.stdout
    deps_step = [line for line in second.stdout.splitlines() if "sha256sum Cargo.toml" in line]
    assert deps_step and any("CACHED" in line for line in second.stdout.splitlines())
    assert second.outputs["digest"] != first.outputs["digest"]
    assert second.outputs["scan-status"] == "Success"
    assert project.robot.secret not in first.text() + second.text()


ESTARGZ_TOC = "containerd.io/snapshot/stargz/toc.digest"


def unpacked_steps(log: str) -> set[str]:
    """The build steps ("[stage n/m]") that unpacked layers, from BuildKit's plain progress."""
    names: dict[str, str] = {}
    unpacked = set()
    for line in log.splitlines():
        vertex, _, text = line.partition(" ")
        if vertex == "#0":  # another buildx run (the action loads, then pushes)
            names = {}
        elif text.startswith("[") and vertex not in names:
            names[vertex] = text.split("]", 1)[0] + "]"
        elif text.startswith("extracting sha256:"):
            unpacked.add(names.get(vertex, vertex))
    return unpacked


def test_a_stargz_builder_gets_an_estargz_cache_and_mounts_it_lazily(
    tmp_path: Path,
    project: Project,
    base_image: str,
    runtime_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The action's own builder runs the stargz snapshotter: the cache is written in eStargz and a
    fresh builder mounts the cached layers instead of unpacking them, while the image stays
    plain gzip, so a rebuild of the same sources from the cache keeps the first digest."""
    service = f"lazy-{uuid.uuid4().hex[:6]}"
    space = workspace(tmp_path, runtime_image)

    def on_stargz(given: dict[str, str]) -> ActionRun:
        return run_on_fresh_builder(space, given, project, tmp_path_factory, "stargz")

    first = on_stargz(inputs(project, service, base_image))
    assert first.returncode == 0, first.text()
    assert "cache layers in eStargz" in first.stdout
    cache = f"{project.repository(service)}{builder.CACHE_SUFFIX}"
    layers = project.manifest(cache, builder.CACHE_TAG).json()["layers"]
    assert layers and all(ESTARGZ_TOC in layer.get("annotations", {}) for layer in layers)
    image = project.manifest(project.repository(service), first.outputs["digest"]).json()
    assert {layer["mediaType"] for layer in image["layers"]} == {GZIP_LAYER}
    assert not any(ESTARGZ_TOC in layer.get("annotations", {}) for layer in image["layers"])

    # A new commit on an empty builder: the cached stages are mounted from Harbor, not unpacked.
    (space / "app" / "src" / "VERSION").write_text("0.3.0\n")
    second = on_stargz(inputs(project, service, base_image, version="1.0.1"))
    assert second.returncode == 0, second.text()
    assert not cache_warnings(second), second.stdout
    assert "CACHED" in second.stdout
    # Only the runtime base is unpacked (a FROM comes from its own repository, in gzip); the
    # build stages' layers, the base of the build stages included, come lazily from the cache.
    assert unpacked_steps(first.stdout) >= {"[deps 1/4]", "[runtime 1/2]"}, first.stdout
    assert unpacked_steps(second.stdout) == {"[runtime 1/2]"}, second.stdout
    assert second.outputs["scan-status"] == "Success"

    # The first release run again on an empty builder, every step from the eStargz cache: the
    # image BuildKit writes is the one the first run pushed.
    (space / "app" / "src" / "VERSION").write_text((SAMPLE / "src" / "VERSION").read_text())
    again = on_stargz(inputs(project, service, base_image))
    assert again.returncode == 0, again.text()
    assert again.outputs["digest"] == first.outputs["digest"]


def delete_blobs(project: Project, repository: str, digests: list[str]) -> None:
    for digest in digests:
        answer = requests.delete(
            f"{project.harbor.url}/v2/{repository}/blobs/{digest}",
            auth=project.harbor.admin,
            timeout=10,
        )
        assert answer.status_code == 202, answer.text


@pytest.mark.parametrize("lost", ["config", "layers"])
def test_an_unreadable_cache_means_a_cold_build_and_a_warning(
    lost: str,
    tmp_path: Path,
    project: Project,
    base_image: str,
    runtime_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    service = f"badcache-{uuid.uuid4().hex[:6]}"
    space = workspace(tmp_path, runtime_image)
    with LocalBuildKit(Path(tmp_path_factory.mktemp("bk")), (project.harbor.registry_host,)) as bk:
        first = run_action(space, inputs(project, service, base_image), env=bk.env())
    assert first.returncode == 0, first.text()
    # The cache manifest is there, but what it points at is gone (e.g. garbage-collected).
    cache = f"{project.repository(service)}{builder.CACHE_SUFFIX}"
    manifest = project.manifest(cache, builder.CACHE_TAG).json()
    blobs = [manifest["config"]["digest"]] if lost == "config" else []
    blobs += [layer["digest"] for layer in manifest["layers"]] if lost == "layers" else []
    delete_blobs(project, cache, blobs)

    (space / "app" / "src" / "VERSION").write_text("0.3.0\n")
    with LocalBuildKit(Path(tmp_path_factory.mktemp("bk")), (project.harbor.registry_host,)) as bk:
        run = run_action(space, inputs(project, service, base_image, version="1.0.1"), env=bk.env())
    assert run.returncode == 0, run.text()
    assert len(cache_warnings(run)) == 1, run.stdout
    assert run.outputs["scan-status"] == "Success"


def test_a_foreign_image_in_place_of_the_cache_is_replaced(
    tmp_path: Path,
    project: Project,
    base_image: str,
    runtime_image: str,
    fresh_builder: LocalBuildKit,
) -> None:
    """BuildKit reads an image that is not a cache as an empty cache: a cold build that writes
    a real cache over it."""
    service = f"foreign-{uuid.uuid4().hex[:6]}"
    cache = f"{project.repository(service)}{builder.CACHE_SUFFIX}"
    push_raw_image(project.harbor.url, cache, builder.CACHE_TAG, project.auth)
    run = run_action(
        workspace(tmp_path, runtime_image),
        inputs(project, service, base_image),
        env=fresh_builder.env(),
    )
    assert run.returncode == 0, run.text()
    manifest = project.manifest(cache, builder.CACHE_TAG).json()
    assert manifest["config"]["mediaType"] == "application/vnd.buildkit.cacheconfig.v0"
    # Every cache layer in gzip, as the images' own: layers built from the cache then keep the
    # digests of a cold build (a zstd cache put zstd layers into the image; builder.py).
    assert {layer["mediaType"] for layer in manifest["layers"]} == {GZIP_LAYER}


def test_cache_none_neither_reads_nor_writes_a_cache(
    tmp_path: Path,
    project: Project,
    base_image: str,
    runtime_image: str,
    fresh_builder: LocalBuildKit,
) -> None:
    service = f"nocache-{uuid.uuid4().hex[:6]}"
    run = run_action(
        workspace(tmp_path, runtime_image),
        inputs(project, service, base_image, cache="none"),
        env=fresh_builder.env(),
    )
    assert run.returncode == 0, run.text()
    assert not cache_warnings(run)
    cache = f"{project.repository(service)}{builder.CACHE_SUFFIX}"
    assert project.manifest(cache, builder.CACHE_TAG).status_code == 404


# -- multi-platform ---------------------------------------------------------------------------


def multi_platform_context(root: Path, arm64_kind: str) -> Path:
    """A small service for amd64 and arm64 on busybox of each architecture: the Trivy fixture
    packages of a clean image on amd64 and of `arm64_kind` on arm64, and a RUN step that runs the
    platform's own busybox (under QEMU for arm64)."""
    context = root / "app"
    (context / "busybox").mkdir(parents=True)
    shutil.copy2("/bin/busybox", context / "busybox" / "amd64")
    shutil.copy2(buildkit.BIN.parent / "arm64" / "busybox", context / "busybox" / "arm64")
    build_context("clean", root / "amd64")
    build_context(arm64_kind, root / "arm64")
    for arch in ("amd64", "arm64"):
        shutil.move(root / arch / "rootfs", context / f"rootfs-{arch}")
    (context / "Dockerfile").write_text(
        "FROM scratch\n"
        "ARG TARGETARCH\n"
        "COPY busybox/${TARGETARCH} /bin/busybox\n"
        "COPY rootfs-${TARGETARCH}/ /\n"
        'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /etc/k1s0-machine"]\n'
        "USER 65532\n"
    )
    return root


def multi_inputs(project: Project, service: str, **more: str) -> dict[str, str]:
    # A one-stage scratch image for the gate, not a template: the image rules are tested elsewhere.
    given = inputs(
        project, service, "", platforms="linux/amd64,linux/arm64", conformance="off", **more
    )
    given.pop("build-args")
    return given


@pytest.fixture
def emulation() -> None:
    if not buildkit.enable_emulation("linux/arm64"):
        pytest.fail(
            "cannot run arm64 binaries: install qemu-user-static (scripts/buildkit.sh) and "
            "register it with binfmt_misc (needs /proc/sys/fs/binfmt_misc writable)"
        )


@pytest.mark.usefixtures("emulation")
def test_an_arm64_only_critical_blocks_the_whole_index(
    tmp_path: Path, project: Project, fresh_builder: LocalBuildKit
) -> None:
    service = f"multi-{uuid.uuid4().hex[:6]}"
    run = run_action(
        multi_platform_context(tmp_path, "critical"),
        multi_inputs(project, service),
        env=fresh_builder.env(),
    )
    assert run.returncode == 1, run.text()
    assert run.outputs["blocked"] == "true"
    assert len(run.errors) == 1 and "linux/arm64" in run.errors[0], run.stdout
    assert "linux/amd64:" not in run.errors[0]
    # Nothing promoted; the blocked build tag is gone (keep-blocked: false).
    listed = requests.get(
        f"{project.harbor.url}/v2/{project.repository(service)}/tags/list",
        auth=project.auth,
        timeout=10,
    ).json()
    assert not listed.get("tags")


@pytest.mark.usefixtures("emulation")
def test_a_clean_index_is_gated_per_platform_signed_and_promoted_as_one(
    tmp_path: Path, project: Project, fresh_builder: LocalBuildKit, sigstore: LocalSigstore
) -> None:
    service = f"multi-{uuid.uuid4().hex[:6]}"
    env = {
        **fresh_builder.env(),
        **sigstore.issue_env(workflow_claims("k1s0-org/k1s0", sha=DEFAULT_SHA)),
        "COSIGN": tool("cosign"),
    }
    run = run_action(
        multi_platform_context(tmp_path, "clean"),
        multi_inputs(
            project,
            service,
            sign="true",
            **{
                "fulcio-url": sigstore.fulcio_url,
                "rekor-url": "http://127.0.0.1:9",
                "trusted-root": str(sigstore.trusted_root_path),
                "tlog-upload": "false",
                "certificate-oidc-issuer": sigstore.oidc_url,
            },
        ),
        env=env,
    )
    assert run.returncode == 0, run.text()
    repository = project.repository(service)
    digest = run.outputs["digest"]
    index = project.manifest(repository, digest).json()
    assert index["mediaType"] == INDEX
    children = builder.parse_index(index)
    assert {child.platform for child in children} == {"linux/amd64", "linux/arm64"}
    # The gate waited for and judged each platform's own scan.
    for child in children:
        assert f"{child.platform}: gating {child.digest}" in run.stdout
        overview = project.artifact(repository, child.digest)["scan_overview"]
        assert isinstance(overview, dict)
        assert next(iter(overview.values()))["scan_status"] == "Success"
    # The arm64 image really ran its RUN step on arm64 (QEMU).
    arm64 = next(child for child in children if child.platform == "linux/arm64")
    assert project.manifest(repository, arm64.digest).status_code == 200
    # Promotion tags the index; the signature is the index digest's.
    for tag in ("1.0.0", "latest"):
        assert project.manifest(repository, tag).headers["Docker-Content-Digest"] == digest
    assert project.manifest(repository, digest.replace(":", "-") + ".sig").status_code == 200
    assert json.loads(run.outputs["tags"])[1:] == ["1.0.0", "latest"]


def test_push_false_builds_with_buildkit_reads_the_cache_and_pushes_nothing(
    tmp_path: Path,
    project: Project,
    base_image: str,
    runtime_image: str,
    fresh_builder: LocalBuildKit,
) -> None:
    service = f"nopush-{uuid.uuid4().hex[:6]}"
    # A pull request from a branch of the repository: secrets are there, nothing is pushed.
    given = inputs(project, service, base_image, push="false")
    run = run_action(workspace(tmp_path, runtime_image), given, env=fresh_builder.env())
    assert run.returncode == 0, run.text()
    assert "push: false; built" in run.stdout
    assert "importing cache manifest from" in run.stdout
    assert "exporting cache to registry" not in run.stdout
    assert project.manifest(project.repository(service), "1.0.0-0123456").status_code == 404
