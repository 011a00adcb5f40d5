"""Build backends behind one small interface: the classic builder through the Docker SDK, and
BuildKit through buildx with a registry cache in Harbor and multi-platform image indexes.

The inputs `builder`, `cache` and `platforms` are checked in k1s0_action.inputs
(`BackendSettings`); `select` picks a backend; `Builder.build` builds (BuildKit pushes in the
same step unless the image must first be loaded into the engine for the image rules),
`Builder.push` returns the pushed digest and `Builder.close` forgets the builder. Command
construction (`buildx_argv`, `cache_ref`, ...) is pure and tested as tables; the subprocess and
registry calls sit in `BuildKitBuilder`.

Why BuildKit is the default (numbers in README.md, "Build backends and the cache"): on a fresh
runner only a cache that lives in a registry helps, and only BuildKit exports the intermediate
stages (`mode=max`), so the dependency layer of a multi-stage build survives; it also applies
labels as metadata instead of one container commit per label, and builds image indexes. The
builder the action starts itself runs the stargz snapshotter and gets an eStargz cache, which a
fresh builder mounts instead of unpacking (CACHE_COMPRESSION).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import docker

from k1s0_action import engine, inputs
from k1s0_action.errors import BuildError, InputError, RegistryAuthError, RegistryError

Log = engine.Log

BUILDERS = inputs.BUILDERS
CACHES = inputs.CACHES
CACHE_SUFFIX = "-cache"
CACHE_TAG = "buildcache"
# The cache's layer compression, chosen by the builder's snapshotter (`cache_format`). eStargz
# where BuildKit runs the stargz snapshotter: a fresh builder then mounts the cached base and
# dependency layers from Harbor and reads only the files a step opens, instead of fetching and
# unpacking all of them (README.md "Rebuilds on a fresh builder": a Rust source rebuild 11 s
# against 23-34 s). Level 1 halves the one-off conversion of the base into the cache. gzip
# (BuildKit's default) everywhere else, where eStargz would cost the conversion and save nothing.
# zstd is only measured (bench/build_cache.py). Whatever the cache holds, the image is written in
# gzip (`IMAGE_COMPRESSION`): BuildKit otherwise reuses the cache's blobs in the image, and the
# same commit rebuilt from the cache would get another digest than its first build, so a re-run
# of a release would no longer find the image it had pushed.
CACHE_COMPRESSION = {
    "gzip": "",
    "estargz": ",compression=estargz,compression-level=1,force-compression=true",
    "zstd": ",compression=zstd,force-compression=true",
}
IMAGE_COMPRESSION = ",compression=gzip,force-compression=true"
# The stargz snapshotter fetches a lazily mounted layer in chunks of this size (its default is
# 50 kB, one registry request each: 10 s more for the Rust template's rebuild, measured).
STARGZ_CHUNK_SIZE = 4 * 1024 * 1024
STARGZ_SNAPSHOTTER = "stargz"
# The image BuildKit runs in when the action starts its own builder on the runner's engine
# (buildx's docker-container driver), pinned to the version the tests build.
BUILDKIT_IMAGE = "moby/buildkit:v0.34.2"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
# BuildKit's plain progress: "#<vertex> <text>"; a vertex's first line is its name and an error
# ends it as "#<vertex> ERROR: <message>". The cache has vertices of its own, whose errors do not
# fail the build: an import that fails means a build without the cache, an export that fails is
# ignored (ignore-error=true).
_VERTEX_LINE = re.compile(r"^#(\d+) (.*)$")
_CACHE_VERTICES = (
    ("importing cache manifest from", "could not be read"),
    ("exporting cache to registry", "could not be written"),
)
# A blob that a cache record points at could not be fetched from the registry.
_LOST_BLOB = re.compile(r"could not fetch content descriptor .* from remote", re.IGNORECASE)
_AUTH_FAILURE = re.compile(r"401 Unauthorized|unauthorized|denied|403 Forbidden", re.IGNORECASE)


# The inputs this module uses are checked with the others, in k1s0_action.inputs.
BuildSettings = inputs.BackendSettings
read_settings = inputs.read_backend
parse_platforms = inputs.parse_platforms


@dataclass(frozen=True)
class BuildSpec:
    context: Path
    dockerfile: Path
    image: str  # <registry>/<project>/<repository>, no tag
    tag: str
    build_args: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    target: str
    platforms: tuple[str, ...]
    cache_ref: str = ""  # "" = no registry cache
    push: bool = True
    network: str = ""  # "" (the builder's default) | "host"; used by bench/
    # The registry cache's layer compression (CACHE_COMPRESSION); "" = by the builder's
    # snapshotter (`cache_format`).
    cache_compression: str = ""
    # The image must be in the local engine after `build` (the image rules read it there): the
    # classic builder always puts it there; BuildKit then builds the first platform into the
    # engine and pushes in `push`, from the same builder's cache.
    load: bool = False

    @property
    def reference(self) -> str:
        return f"{self.image}:{self.tag}"


@dataclass(frozen=True)
class PlatformImage:
    platform: str  # os/arch[/variant]
    digest: str


@dataclass(frozen=True)
class BuildResult:
    image_id: str  # the engine's image id (classic), or the image config digest (BuildKit)
    digest: str = ""  # manifest or index digest, once pushed
    children: tuple[PlatformImage, ...] = ()  # set for an image index: one image per platform
    cache_note: str = ""  # why the registry cache was not used, if it was not

    @property
    def is_index(self) -> bool:
        return bool(self.children)


class Builder(Protocol):
    name: str

    def build(
        self, spec: BuildSpec, credentials: engine.Credentials | None, log: Log
    ) -> BuildResult: ...

    def push(
        self,
        spec: BuildSpec,
        built: BuildResult,
        credentials: engine.Credentials,
        log: Log,
    ) -> BuildResult: ...

    def close(self) -> None: ...


def cache_ref(image: str) -> str:
    """`<registry>/<project>/<repository>-cache:buildcache`: a repository of its own, so the
    image's tags, scans and promotion never see the cache; retention's 7-day rule (R3) bounds
    the untagged cache manifests each export leaves behind."""
    return f"{image}{CACHE_SUFFIX}:{CACHE_TAG}"


# -- the classic builder ---------------------------------------------------------------------


@dataclass
class ClassicBuilder:
    """docker-py's build and push, as the action always did: no registry cache, one platform."""

    client: docker.APIClient
    name: str = "classic"

    def build(
        self, spec: BuildSpec, credentials: engine.Credentials | None, log: Log
    ) -> BuildResult:
        built = engine.build(
            self.client,
            engine.BuildRequest(
                context=spec.context,
                dockerfile=spec.dockerfile,
                tag=spec.reference,
                build_args=spec.build_args,
                labels=spec.labels,
                target=spec.target,
                platform=spec.platforms[0],
                network_mode=spec.network,
            ),
            log,
        )
        if spec.cache_ref:
            # Logged, not warned: builder: auto without buildx falls back here by design.
            log("the classic builder has no registry cache: cache: harbor is not used")
        return BuildResult(image_id=built.image_id)

    def push(
        self,
        spec: BuildSpec,
        built: BuildResult,
        credentials: engine.Credentials,
        log: Log,
    ) -> BuildResult:
        digest = engine.push(self.client, spec.image, spec.tag, credentials, log)
        return BuildResult(built.image_id, digest, (), built.cache_note)

    def close(self) -> None:
        """Nothing to forget: the engine's build cache stays with the engine."""


# -- builder: auto ----------------------------------------------------------------------------


@dataclass
class AutoBuilder:
    """`builder: auto` with buildx but no BuildKit address: BuildKit in the container buildx starts
    on the runner's engine, or, when that container cannot start (an engine that refuses
    privileged containers, `moby/buildkit` not pullable), the classic builder with a warning: a
    slower build without the registry cache, never a failed job."""

    buildkit: BuildKitBuilder
    classic: ClassicBuilder
    name: str = "buildkit"
    _chosen: Builder | None = None

    def build(
        self, spec: BuildSpec, credentials: engine.Credentials | None, log: Log
    ) -> BuildResult:
        if self._chosen is None:
            problem = self.buildkit.boot(credentials)
            if not problem:
                self._chosen = self.buildkit
            else:
                self._chosen, self.name = self.classic, self.classic.name
                log(escape_line(problem))
                built = self.classic.build(spec, credentials, log)
                note = (
                    f"BuildKit could not start on this runner's Docker engine ({problem}); "
                    "built with the classic builder, without the registry cache. Set "
                    "builder: classic to skip the attempt, or builder: buildkit to make it an error"
                )
                return replace(built, cache_note=note)
        return self._chosen.build(spec, credentials, log)

    def push(
        self,
        spec: BuildSpec,
        built: BuildResult,
        credentials: engine.Credentials,
        log: Log,
    ) -> BuildResult:
        assert self._chosen is not None, "push before build"
        return self._chosen.push(spec, built, credentials, log)

    def close(self) -> None:
        self.buildkit.close()


# -- BuildKit through buildx ------------------------------------------------------------------


@dataclass(frozen=True)
class BuildKitEndpoint:
    """Where BuildKit runs: a buildkitd address (`remote` driver, e.g. the tests' own daemon),
    or a BuildKit container started on the runner's Docker engine (`docker-container` driver)."""

    buildx: str
    address: str = ""  # unix:// or tcp:// of a running buildkitd; "" = docker-container
    image: str = BUILDKIT_IMAGE

    def create_argv(self, name: str, buildkitd_config: Path | None = None) -> list[str]:
        if self.address:
            return [self.buildx, "create", "--name", name, "--driver", "remote", self.address]
        argv = [
            self.buildx,
            "create",
            "--name",
            name,
            "--driver",
            "docker-container",
            "--driver-opt",
            f"image={self.image}",
        ]
        if buildkitd_config:
            argv += ["--buildkitd-config", str(buildkitd_config)]
        return argv


# The action's own BuildKit (docker-container) runs the stargz snapshotter, which the moby/buildkit
# image carries (with fuse3); a layer that cannot be mounted lazily is pulled as usual.
STARGZ_FETCH_CONFIG = f"""[worker.oci.stargzSnapshotter.blob]
  chunk_size = {STARGZ_CHUNK_SIZE}
"""
LAZY_BUILDKITD_CONFIG = f"""[worker.oci]
  snapshotter = "{STARGZ_SNAPSHOTTER}"
{STARGZ_FETCH_CONFIG}"""
_SNAPSHOTTER_LABEL = re.compile(r"org\.mobyproject\.buildkit\.worker\.snapshotter:\s*(\S+)")


def snapshotter_of(inspected: str) -> str:
    """The snapshotter of the builder's worker, from `buildx inspect` ("" when not shown)."""
    match = _SNAPSHOTTER_LABEL.search(inspected)
    return match.group(1) if match else ""


def cache_format(snapshotter: str) -> str:
    """The cache's layer compression for a builder with this snapshotter (CACHE_COMPRESSION)."""
    return "estargz" if snapshotter == STARGZ_SNAPSHOTTER else "gzip"


def find_buildx(env: Mapping[str, str]) -> str:
    """`K1S0_BUILDX`, else `buildx` or `docker-buildx` on PATH, else the docker CLI plugin."""
    given = env.get("K1S0_BUILDX", "")
    if given:
        return given if os.access(given, os.X_OK) else ""
    for name in ("buildx", "docker-buildx"):
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return found
    home = env.get("HOME", "")
    for plugin in (
        Path(env.get("DOCKER_CONFIG", f"{home}/.docker")) / "cli-plugins/docker-buildx",
        Path("/usr/libexec/docker/cli-plugins/docker-buildx"),
        Path("/usr/local/lib/docker/cli-plugins/docker-buildx"),
    ):
        if os.access(plugin, os.X_OK):
            return str(plugin)
    return ""


def buildkit_endpoint(env: Mapping[str, str]) -> BuildKitEndpoint | None:
    buildx = find_buildx(env)
    if not buildx:
        return None
    return BuildKitEndpoint(
        buildx=buildx,
        address=env.get("K1S0_BUILDKIT_HOST", ""),
        image=env.get("K1S0_BUILDKIT_IMAGE", "") or BUILDKIT_IMAGE,
    )


def select(
    settings: BuildSettings, client: docker.APIClient, env: Mapping[str, str], log: Log
) -> Builder:
    """`auto` takes BuildKit when buildx is there (the action image carries it), else the
    classic builder; asking for BuildKit (or for several platforms) without buildx fails."""
    endpoint = buildkit_endpoint(env)
    if settings.builder == "classic":
        return ClassicBuilder(client)
    if endpoint is None:
        if settings.builder == "buildkit" or settings.multi_platform:
            name = "builder" if settings.builder == "buildkit" else "platforms"
            raise InputError(
                name,
                "needs BuildKit, but buildx is not installed; put buildx on PATH or set "
                "K1S0_BUILDX to it (or use builder: classic with one platform)",
            )
        log("buildx not found: building with the classic builder, without a registry cache")
        return ClassicBuilder(client)
    buildkit = BuildKitBuilder(endpoint, env)
    if settings.builder == "auto" and not endpoint.address and not settings.multi_platform:
        return AutoBuilder(buildkit, ClassicBuilder(client))
    return buildkit


def buildx_argv(
    buildx: str, builder_name: str, spec: BuildSpec, metadata_file: Path, read_cache: bool
) -> list[str]:
    """The `buildx build` command line; no secret is ever on it (credentials are in
    DOCKER_CONFIG)."""
    argv = [buildx, "--builder", builder_name, "build", "--progress", "plain"]
    argv += ["--file", str(spec.dockerfile), "--platform", ",".join(spec.platforms)]
    for key, value in spec.build_args:
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in spec.labels:
        argv += ["--label", f"{key}={value}"]
    if spec.target:
        argv += ["--target", spec.target]
    if spec.network:
        argv += ["--network", spec.network]
        if spec.network == "host":
            argv += ["--allow", "network.host"]
    # A plain image (or an index of plain images) that Harbor scans; attestations would turn a
    # single-platform push into an index with an attestation manifest.
    argv += ["--provenance=false", "--sbom=false"]
    if spec.cache_ref:
        layers = CACHE_COMPRESSION[spec.cache_compression or "gzip"]
        if read_cache:
            argv += ["--cache-from", f"type=registry,ref={spec.cache_ref}"]
        if spec.push:
            # image-manifest/oci-mediatypes: the cache shape Harbor's registry accepts
            # (goharbor/harbor#14774); ignore-error: a cache that cannot be written is a warning.
            # compression: see CACHE_COMPRESSION.
            argv += [
                "--cache-to",
                f"type=registry,ref={spec.cache_ref},mode=max,image-manifest=true,"
                f"oci-mediatypes=true,ignore-error=true{layers}",
            ]
    if spec.load:
        # Into the runner's engine (one platform), where the image rules read it.
        argv += ["--output", f"type=docker,name={spec.reference}"]
    else:
        output = f"type=image,name={spec.reference},oci-mediatypes=true"
        if spec.cache_compression not in ("", "gzip"):
            output += IMAGE_COMPRESSION
        argv += ["--output", output + (",push=true" if spec.push else ",push=false")]
    argv += ["--metadata-file", str(metadata_file), str(spec.context)]
    return argv


def dockerfile_in_context(spec: BuildSpec) -> BuildSpec:
    engine.check_build_inputs(spec.context, spec.dockerfile)
    return spec


def escape_line(line: str) -> str:
    """Build output is untrusted: a line that could read as a workflow command is indented."""
    return f"  {line}" if line.lstrip().startswith("::") else line


def cache_problem(log_text: str) -> str:
    """One line saying why the registry cache was not used (or not written), or ""."""
    names: dict[str, str] = {}
    for line in log_text.splitlines():
        found = _VERTEX_LINE.match(line.strip())
        if not found:
            continue
        vertex, text = found.groups()
        name = names.setdefault(vertex, text)
        if not text.startswith("ERROR:"):
            continue
        for prefix, what in _CACHE_VERTICES:
            if name.startswith(prefix):
                detail = text.removeprefix("ERROR:").strip()[:300]
                return f"the build cache {what} ({detail}); the build went on without it"
    return ""


def parse_index(body: Mapping[str, object]) -> tuple[PlatformImage, ...]:
    """The images of an image index, one per platform; attestation manifests are skipped."""
    children = []
    for entry in body.get("manifests") or []:  # type: ignore[attr-defined]
        if not isinstance(entry, Mapping):
            continue
        platform = entry.get("platform") or {}
        os_name, arch = platform.get("os", ""), platform.get("architecture", "")
        if not os_name or os_name == "unknown" or not isinstance(entry.get("digest"), str):
            continue
        name = f"{os_name}/{arch}" + (f"/{platform['variant']}" if platform.get("variant") else "")
        children.append(PlatformImage(name, str(entry["digest"])))
    return tuple(children)


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def buildx_env(
    env: Mapping[str, str], directory: Path, credentials: engine.Credentials | None
) -> dict[str, str]:
    """A private DOCKER_CONFIG (only this run's registry login) and BUILDX_CONFIG (the builder
    this run creates), so nothing of the runner's own configuration leaks in or is changed."""
    config = directory / "docker"
    config.mkdir(mode=0o700)
    auths = {}
    if credentials:
        basic = f"{credentials.username}:{credentials.password}".encode()
        auths[credentials.registry] = {"auth": base64.b64encode(basic).decode()}
    _write_private(config / "config.json", json.dumps({"auths": auths}))
    clean = dict(env)
    clean["DOCKER_CONFIG"] = str(config)
    clean["BUILDX_CONFIG"] = str(directory / "buildx")
    clean.pop("BUILDX_BUILDER", None)
    return clean


@dataclass
class BuildKitBuilder:
    """One buildx builder for the run, created on the first build and removed by `close`, so the
    push after a local load reuses what the load built."""

    endpoint: BuildKitEndpoint
    env: Mapping[str, str]
    name: str = "buildkit"
    _directory: Path | None = None
    _session: tuple[str, dict[str, str]] | None = None
    _lazy: bool = True  # the docker-container builder with the stargz snapshotter
    _snapshotter: str | None = None  # once BuildKit runs

    def _open(self, credentials: engine.Credentials | None) -> tuple[str, dict[str, str]]:
        if self._session is None:
            self._directory = Path(tempfile.mkdtemp(prefix="k1s0-buildx-"))
            env = buildx_env(self.env, self._directory, credentials)
            builder_name = f"k1s0-{uuid.uuid4().hex[:12]}"
            config = None
            if self._lazy and not self.endpoint.address:
                config = self._directory / "buildkitd.toml"
                _write_private(config, LAZY_BUILDKITD_CONFIG)
            self._run(self.endpoint.create_argv(builder_name, config), env, "create the builder")
            self._session = (builder_name, env)
        return self._session

    def _start(self, credentials: engine.Credentials | None) -> tuple[str, dict[str, str]]:
        """Creates the builder and starts its BuildKit (`buildx inspect --bootstrap`), once,
        and learns its snapshotter. A docker-container builder that cannot start with the stargz
        snapshotter is created once more without it."""
        builder_name, env = self._open(credentials)
        if self._snapshotter is None:
            inspect = [self.endpoint.buildx, "inspect", "--bootstrap", builder_name]
            try:
                shown = self._run(inspect, env, "start BuildKit")
            except BuildError:
                if not self._lazy or self.endpoint.address:
                    raise
                self.close()
                self._lazy = False
                builder_name, env = self._open(credentials)
                inspect[-1] = builder_name
                shown = self._run(inspect, env, "start BuildKit")
            self._snapshotter = snapshotter_of(shown)
        return builder_name, env

    def boot(self, credentials: engine.Credentials | None) -> str:
        """Creates the builder and starts its BuildKit now; returns why it could not start,
        "" when it runs."""
        try:
            self._start(credentials)
        except BuildError as error:
            return str(error)
        return ""

    def close(self) -> None:
        if self._session is not None:
            builder_name, env = self._session
            # Removes the docker-container builder's container; a remote one is only forgotten.
            subprocess.run(
                [self.endpoint.buildx, "rm", "--force", builder_name],
                env=env,
                capture_output=True,
                check=False,
                timeout=120,
            )
            self._session = None
            self._snapshotter = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def build(
        self, spec: BuildSpec, credentials: engine.Credentials | None, log: Log
    ) -> BuildResult:
        dockerfile_in_context(spec)
        builder_name, env = self._start(credentials)
        assert self._directory is not None
        if spec.load:
            spec = replace(spec, push=False, platforms=spec.platforms[:1])
        return self._build(spec, env, builder_name, self._directory, log)

    def _build(
        self, spec: BuildSpec, env: dict[str, str], builder_name: str, directory: Path, log: Log
    ) -> BuildResult:
        metadata = directory / f"metadata-{uuid.uuid4().hex[:8]}.json"
        read_cache = bool(spec.cache_ref)
        if spec.cache_ref and not spec.cache_compression:
            spec = replace(spec, cache_compression=cache_format(self._snapshotter or ""))
            if spec.cache_compression == "estargz" and spec.push:
                log("cache layers in eStargz: this builder mounts them lazily (stargz snapshotter)")
        argv = buildx_argv(self.endpoint.buildx, builder_name, spec, metadata, read_cache)
        text, failed = self._stream(argv, env, log)
        note = cache_problem(text) if spec.cache_ref else ""
        lost = lost_cache_blob(text) if failed and read_cache else ""
        if lost:
            # The cache manifest was read, but a blob it names is gone (garbage-collected,
            # deleted): BuildKit fails the step that needed it. Once more, without the cache.
            note = f"the build cache could not be read ({lost}); built again without it"
            log(f"{note}: {spec.cache_ref}")
            argv = buildx_argv(self.endpoint.buildx, builder_name, spec, metadata, False)
            text, failed = self._stream(argv, env, log)
        if failed:
            raise _build_failure(spec.reference, text)
        try:
            result = json.loads(metadata.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise BuildError(
                f"buildx build of {spec.reference} wrote no build result; see the log above"
            ) from None
        digest = str(result.get("containerimage.digest", ""))
        image_id = str(result.get("containerimage.config.digest", "")) or digest
        if not spec.push:
            return BuildResult(image_id=image_id, cache_note=note)
        if not digest:
            raise RegistryError(f"push of {spec.reference} ended without a digest from buildx")
        children: tuple[PlatformImage, ...] = ()
        descriptor = result.get("containerimage.descriptor") or {}
        if spec.platforms[1:] or descriptor.get("mediaType") in INDEX_TYPES:
            children = self._children(spec, digest, env)
        return BuildResult(image_id, digest, children, note)

    def push(
        self,
        spec: BuildSpec,
        built: BuildResult,
        credentials: engine.Credentials,
        log: Log,
    ) -> BuildResult:
        if not built.digest:
            # Built into the engine for the image rules: now the push, from the builder's cache.
            builder_name, env = self._start(credentials)
            assert self._directory is not None
            pushed = self._build(
                replace(spec, load=False, push=True), env, builder_name, self._directory, log
            )
            built = replace(pushed, cache_note=built.cache_note or pushed.cache_note)
        # BuildKit pushes while building (one step: no export to the engine and back).
        log(f"pushed by BuildKit: {spec.reference}@{built.digest}")
        for child in built.children:
            log(f"  {child.platform}: {spec.image}@{child.digest}")
        return built

    def _children(
        self, spec: BuildSpec, digest: str, env: Mapping[str, str]
    ) -> tuple[PlatformImage, ...]:
        shown = self._run(
            [self.endpoint.buildx, "imagetools", "inspect", "--raw", f"{spec.image}@{digest}"],
            env,
            "read the pushed image index",
        )
        try:
            body = json.loads(shown)
        except ValueError:
            raise RegistryError(
                f"the registry returned no image index for {spec.image}@{digest}"
            ) from None
        if body.get("mediaType") not in INDEX_TYPES:
            return ()
        children = parse_index(body)
        if not children:
            raise RegistryError(f"the image index {spec.image}@{digest} lists no platform image")
        return children

    def _run(self, argv: Sequence[str], env: Mapping[str, str], what: str) -> str:
        try:
            done = subprocess.run(
                list(argv), env=dict(env), capture_output=True, text=True, check=False, timeout=300
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"buildx could not {what}: {exc}") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise BuildError(f"buildx could not {what}: {detail[-1] if detail else 'no output'}")
        return done.stdout

    def _stream(self, argv: Sequence[str], env: Mapping[str, str], log: Log) -> tuple[str, bool]:
        """Runs buildx, logging each line; returns the output and whether it failed."""
        lines: list[str] = []
        try:
            process = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise BuildError(f"cannot run buildx ({argv[0]}): {exc}") from None
        assert process.stdout is not None
        with process:
            for raw in process.stdout:
                line = raw.rstrip("\n")
                lines.append(line)
                log(escape_line(line))
        return "\n".join(lines), process.returncode != 0


def lost_cache_blob(log_text: str) -> str:
    """The error line when a build failed because a blob named by the cache was missing."""
    for line in reversed(log_text.splitlines()):
        if _LOST_BLOB.search(line):
            return line.split("ERROR:", 1)[-1].strip()[:300]
    return ""


def _build_failure(reference: str, text: str) -> Exception:
    errors = [line for line in text.splitlines() if "ERROR" in line or "error:" in line]
    last = (errors[-1] if errors else (text.splitlines() or ["no output"])[-1]).strip()
    if "push" in last.lower() and _AUTH_FAILURE.search(last):
        return RegistryAuthError(
            f"the registry refused to accept {reference}: {last[:300]}; check that the robot "
            "account in harbor-username/harbor-password may push to this project"
        )
    return BuildError(f"buildx build of {reference} failed: {last[:500]}")
