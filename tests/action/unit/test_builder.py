"""The build backends' pure parts: the build inputs, the cache reference, the buildx command line,
reading an image index, spotting an unusable cache in BuildKit's log, and combining per-platform
gate results."""

from __future__ import annotations

from pathlib import Path

import pytest

from k1s0_action import builder, gate, multiplatform
from k1s0_action.builder import BuildSettings, BuildSpec, PlatformImage
from k1s0_action.errors import InputError
from k1s0_action.harbor import Project
from k1s0_action.policy import Allowlist
from k1s0_action.scanreport import Verdict


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, BuildSettings("auto", "harbor", ("linux/amd64",))),
        ({"INPUT_PLATFORM": "linux/arm64"}, BuildSettings("auto", "harbor", ("linux/arm64",))),
        (
            {"INPUT_PLATFORMS": "linux/amd64, linux/arm64"},
            BuildSettings("auto", "harbor", ("linux/amd64", "linux/arm64")),
        ),
        (
            {"INPUT_PLATFORMS": "linux/arm64\nlinux/amd64\nlinux/arm64"},
            BuildSettings("auto", "harbor", ("linux/arm64", "linux/amd64")),
        ),
        ({"INPUT_CACHE": "None"}, BuildSettings("auto", "none", ("linux/amd64",))),
        ({"INPUT_BUILDER": "classic"}, BuildSettings("classic", "harbor", ("linux/amd64",))),
        (
            {"INPUT_BUILDER": "buildkit", "INPUT_PLATFORMS": "linux/arm64,linux/amd64"},
            BuildSettings("buildkit", "harbor", ("linux/arm64", "linux/amd64")),
        ),
    ],
)
def test_build_settings(env: dict[str, str], expected: BuildSettings) -> None:
    assert builder.read_settings(env) == expected


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"INPUT_CACHE": "gha"}, "cache"),
        ({"INPUT_BUILDER": "kaniko"}, "builder"),
        ({"INPUT_PLATFORMS": "linux/amd64,windows/amd64"}, "platforms"),
        ({"INPUT_BUILDER": "classic", "INPUT_PLATFORMS": "linux/amd64,linux/arm64"}, "platforms"),
    ],
)
def test_bad_build_inputs_name_the_input(env: dict[str, str], name: str) -> None:
    with pytest.raises(InputError) as raised:
        builder.read_settings(env)
    assert raised.value.input_name == name


def test_the_cache_has_a_repository_of_its_own() -> None:
    assert builder.cache_ref("harbor.example/k1s0-system/auth") == (
        "harbor.example/k1s0-system/auth-cache:buildcache"
    )


def spec(**changes: object) -> BuildSpec:
    base = BuildSpec(
        context=Path("app"),
        dockerfile=Path("app/Dockerfile"),
        image="h.example/k1s0-system/auth",
        tag="1.0.0-0123456",
        build_args=(("A", "1"),),
        labels=(("org.opencontainers.image.version", "1.0.0"),),
        target="",
        platforms=("linux/amd64",),
        cache_ref="h.example/k1s0-system/auth-cache:buildcache",
    )
    return BuildSpec(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == name]


def test_buildx_pushes_a_plain_image_and_reads_and_writes_the_harbor_cache() -> None:
    argv = builder.buildx_argv("buildx", "b1", spec(), Path("/tmp/m.json"), read_cache=True)
    assert argv[:4] == ["buildx", "--builder", "b1", "build"]
    assert option(argv, "--cache-from") == [
        "type=registry,ref=h.example/k1s0-system/auth-cache:buildcache"
    ]
    assert option(argv, "--cache-to") == [
        "type=registry,ref=h.example/k1s0-system/auth-cache:buildcache,mode=max,"
        "image-manifest=true,oci-mediatypes=true,ignore-error=true"
    ]
    assert option(argv, "--output") == [
        "type=image,name=h.example/k1s0-system/auth:1.0.0-0123456,oci-mediatypes=true,push=true"
    ]
    assert "--provenance=false" in argv and "--sbom=false" in argv
    assert option(argv, "--label") == ["org.opencontainers.image.version=1.0.0"]
    assert option(argv, "--build-arg") == ["A=1"]
    assert option(argv, "--platform") == ["linux/amd64"]
    assert argv[-1] == "app"


@pytest.mark.parametrize(
    ("changes", "cache_from", "cache_to"),
    [
        ({"cache_ref": ""}, 0, 0),
        ({"push": False}, 1, 0),  # a pull request reads the cache but never writes it
    ],
)
def test_buildx_cache_options(changes: dict[str, object], cache_from: int, cache_to: int) -> None:
    argv = builder.buildx_argv("buildx", "b", spec(**changes), Path("m"), read_cache=True)
    assert len(option(argv, "--cache-from")) == cache_from
    assert len(option(argv, "--cache-to")) == cache_to


@pytest.mark.parametrize(
    ("compression", "cache_layers", "image_layers"),
    [
        # gzip cache: BuildKit's defaults, the image reuses the cache's gzip blobs unchanged.
        ("", "", ""),
        ("gzip", "", ""),
        # Any other cache: the image is still written in gzip, so that a rebuild from the cache
        # gets the digest of the first build.
        (
            "estargz",
            ",compression=estargz,compression-level=1,force-compression=true",
            ",compression=gzip,force-compression=true",
        ),
        (
            "zstd",
            ",compression=zstd,force-compression=true",
            ",compression=gzip,force-compression=true",
        ),
    ],
)
def test_cache_and_image_compression(
    compression: str, cache_layers: str, image_layers: str
) -> None:
    argv = builder.buildx_argv(
        "buildx", "b", spec(cache_compression=compression), Path("m"), read_cache=True
    )
    assert option(argv, "--cache-to") == [
        "type=registry,ref=h.example/k1s0-system/auth-cache:buildcache,mode=max,"
        "image-manifest=true,oci-mediatypes=true,ignore-error=true" + cache_layers
    ]
    assert option(argv, "--output") == [
        "type=image,name=h.example/k1s0-system/auth:1.0.0-0123456,oci-mediatypes=true"
        + image_layers
        + ",push=true"
    ]


INSPECT_STARGZ = """Name:          k1s0-0123456789ab
Driver:        docker-container
Nodes:
Name:                  k1s0-0123456789ab0
Endpoint:              unix:///var/run/docker.sock
Status:                running
BuildKit version:      v0.34.2
Platforms:             linux/amd64, linux/amd64/v2, linux/386
Labels:
 org.mobyproject.buildkit.worker.executor:         oci
 org.mobyproject.buildkit.worker.hostname:         0f1e2d3c4b5a
 org.mobyproject.buildkit.worker.network:          host
 org.mobyproject.buildkit.worker.oci.process-mode: sandbox
 org.mobyproject.buildkit.worker.selinux.enabled:  false
 org.mobyproject.buildkit.worker.snapshotter:      stargz
"""


@pytest.mark.parametrize(
    ("inspected", "snapshotter", "compression"),
    [
        (INSPECT_STARGZ, "stargz", "estargz"),
        (INSPECT_STARGZ.replace("      stargz", "      overlayfs"), "overlayfs", "gzip"),
        (INSPECT_STARGZ.replace("      stargz", "      native"), "native", "gzip"),
        # An older buildx, or a builder that shows no labels: the safe default.
        (INSPECT_STARGZ.split("Labels:")[0], "", "gzip"),
    ],
)
def test_the_cache_format_follows_the_builders_snapshotter(
    inspected: str, snapshotter: str, compression: str
) -> None:
    assert builder.snapshotter_of(inspected) == snapshotter
    assert builder.cache_format(snapshotter) == compression


def test_the_actions_own_builder_runs_the_stargz_snapshotter(tmp_path: Path) -> None:
    endpoint = builder.BuildKitEndpoint(buildx="buildx")
    config = tmp_path / "buildkitd.toml"
    assert endpoint.create_argv("b", config)[-2:] == ["--buildkitd-config", str(config)]
    assert "--buildkitd-config" not in endpoint.create_argv("b")
    assert 'snapshotter = "stargz"' in builder.LAZY_BUILDKITD_CONFIG
    assert f"chunk_size = {4 * 1024 * 1024}" in builder.LAZY_BUILDKITD_CONFIG
    # A given buildkitd keeps its own configuration.
    remote = builder.BuildKitEndpoint(buildx="buildx", address="tcp://127.0.0.1:1234")
    assert "--buildkitd-config" not in remote.create_argv("b", config)


def test_buildx_multi_platform_target_and_host_network() -> None:
    argv = builder.buildx_argv(
        "buildx",
        "b",
        spec(platforms=("linux/amd64", "linux/arm64"), target="build", network="host"),
        Path("m"),
        read_cache=False,
    )
    assert option(argv, "--platform") == ["linux/amd64,linux/arm64"]
    assert option(argv, "--target") == ["build"]
    assert option(argv, "--network") == ["host"]
    assert option(argv, "--allow") == ["network.host"]
    assert not option(argv, "--cache-from")


def test_no_secret_reaches_the_buildx_environment_outside_its_private_config(
    tmp_path: Path,
) -> None:
    from k1s0_action.engine import Credentials

    env = builder.buildx_env(
        {"PATH": "/bin", "BUILDX_BUILDER": "other"},
        tmp_path,
        Credentials("h.example", "robot$p+ci", "s3cret"),
    )
    assert "s3cret" not in repr(env)
    assert "BUILDX_BUILDER" not in env
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    assert config.stat().st_mode & 0o777 == 0o600
    assert "h.example" in config.read_text()


def test_parse_index_keeps_platform_images_and_skips_attestations() -> None:
    index = {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
            {
                "digest": "sha256:" + "b" * 64,
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
            {
                "digest": "sha256:" + "c" * 64,
                "platform": {"os": "unknown", "architecture": "unknown"},
            },
        ],
    }
    assert builder.parse_index(index) == (
        PlatformImage("linux/amd64", "sha256:" + "a" * 64),
        PlatformImage("linux/arm64/v8", "sha256:" + "b" * 64),
    )


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("#5 [build 2/3] RUN make\n#5 DONE 0.1s\n#6 exporting to image", ""),
        ("#5 [build 2/3] RUN false\n#5 ERROR: process did not complete successfully", ""),
        (
            "#3 importing cache manifest from h/p/a-cache:buildcache\n"
            "#3 ERROR: failed to configure registry cache importer: h/p/a-cache:buildcache: "
            "not found",
            "could not be read (failed to configure registry cache importer",
        ),
        (
            "#12 exporting cache to registry\n#12 preparing build cache for export\n"
            "#12 writing layer sha256:abc\n#12 ERROR: failed commit on ref: 500",
            "could not be written (failed commit on ref: 500)",
        ),
    ],
)
def test_cache_problems_are_spotted_in_the_log(log: str, expected: str) -> None:
    assert expected in builder.cache_problem(log)
    assert bool(expected) == bool(builder.cache_problem(log))


@pytest.mark.parametrize(
    ("line", "shown"),
    [("#4 [build 1/3] FROM x", "#4 [build 1/3] FROM x"), ("::error::x", "  ::error::x")],
)
def test_build_output_never_reads_as_a_workflow_command(line: str, shown: str) -> None:
    assert builder.escape_line(line) == shown


def result(verdict: str, note: str = "") -> gate.GateResult:
    project = Project(
        id=1,
        name="p",
        auto_scan=True,
        allowlist=Allowlist("project p", frozenset()),
        reuse_system_allowlist=False,
    )
    return gate.GateResult(project, "Success", verdict, None, note)


AMD = PlatformImage("linux/amd64", "sha256:" + "a" * 64)
ARM = PlatformImage("linux/arm64", "sha256:" + "b" * 64)


@pytest.mark.parametrize(
    ("amd", "arm", "verdict", "note"),
    [
        (Verdict.PASSED, Verdict.PASSED, Verdict.PASSED, ""),
        (Verdict.PASSED, Verdict.BLOCKED, Verdict.BLOCKED, "linux/arm64: 1 blocking"),
        (Verdict.BLOCKED, Verdict.INCOMPLETE, Verdict.BLOCKED, "linux/amd64: 1 blocking"),
        (Verdict.INCOMPLETE, Verdict.PASSED, Verdict.INCOMPLETE, "linux/amd64: 1 blocking"),
    ],
)
def test_the_worst_platform_decides(amd: str, arm: str, verdict: str, note: str) -> None:
    amd_note = "" if amd == Verdict.PASSED else "1 blocking"
    arm_note = "" if arm == Verdict.PASSED else "1 blocking"
    combined = multiplatform.combine([(AMD, result(amd, amd_note)), (ARM, result(arm, arm_note))])
    assert combined.verdict == verdict
    assert note in combined.note


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("#9 [build 2/2] RUN false\n#9 ERROR: process did not complete successfully", ""),
        (
            "#11 ERROR: failed to copy: httpReadSeeker: failed open: could not fetch content "
            "descriptor sha256:46 (application/vnd.oci.image.layer.v1.tar+gzip) from remote: "
            "not found\nERROR: failed to build: failed to solve: ...",
            "failed to copy: httpReadSeeker: failed open: could not fetch content descriptor",
        ),
    ],
)
def test_a_lost_cache_blob_is_told_from_a_failing_step(log: str, expected: str) -> None:
    assert builder.lost_cache_blob(log).startswith(expected)
    assert bool(expected) == bool(builder.lost_cache_blob(log))


@pytest.mark.parametrize(
    ("settings", "env", "expected"),
    [
        (BuildSettings("auto", "harbor", ("linux/amd64",)), {"PATH": "/nonexistent"}, "classic"),
        (
            BuildSettings("classic", "harbor", ("linux/amd64",)),
            {"K1S0_BUILDX": "/bin/sh"},
            "classic",
        ),
        (BuildSettings("auto", "harbor", ("linux/amd64",)), {"K1S0_BUILDX": "/bin/sh"}, "buildkit"),
        (
            BuildSettings("buildkit", "none", ("linux/amd64",)),
            {"K1S0_BUILDX": "/bin/sh"},
            "buildkit",
        ),
    ],
)
def test_select_picks_buildkit_when_buildx_is_there(
    settings: BuildSettings, env: dict[str, str], expected: str
) -> None:
    assert builder.select(settings, None, env, lambda _: None).name == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        (BuildSettings("buildkit", "harbor", ("linux/amd64",)), "builder"),
        (BuildSettings("auto", "harbor", ("linux/amd64", "linux/arm64")), "platforms"),
    ],
)
def test_buildkit_without_buildx_names_the_input(settings: BuildSettings, name: str) -> None:
    with pytest.raises(InputError) as raised:
        builder.select(settings, None, {"PATH": "/nonexistent"}, lambda _: None)  # type: ignore[arg-type]
    assert raised.value.input_name == name


def test_the_remote_driver_is_used_for_a_given_buildkitd() -> None:
    endpoint = builder.buildkit_endpoint(
        {"K1S0_BUILDX": "/bin/sh", "K1S0_BUILDKIT_HOST": "unix:///run/bk.sock"}
    )
    assert endpoint is not None
    assert endpoint.create_argv("b")[-3:] == ["--driver", "remote", "unix:///run/bk.sock"]
    default = builder.buildkit_endpoint({"K1S0_BUILDX": "/bin/sh"})
    assert default is not None
    assert "image=moby/buildkit:v0.34.2" in default.create_argv("b")


def test_buildx_on_path_as_in_the_action_image(tmp_path: Path) -> None:
    """The image puts buildx in /opt/k1s0/bin, first on its PATH; no K1S0_BUILDX needed."""
    bin_dir = tmp_path / "opt-k1s0-bin"
    bin_dir.mkdir()
    (bin_dir / "buildx").write_text("#!/bin/sh\n")
    (bin_dir / "buildx").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/nonexistent", "HOME": str(tmp_path)}
    assert builder.find_buildx(env) == str(bin_dir / "buildx")
    settings = BuildSettings("auto", "harbor", ("linux/amd64",))
    assert builder.select(settings, None, env, lambda _: None).name == "buildkit"  # type: ignore[arg-type]
    # Given but not executable (the image has none there): not found, the classic builder.
    broken = {"K1S0_BUILDX": str(tmp_path / "missing"), "PATH": "/nonexistent"}
    assert builder.find_buildx(broken) == ""
    assert builder.select(settings, None, broken, lambda _: None).name == "classic"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "argv"),
    [
        (  # a runner: BuildKit in its own container on the runner's engine
            {},
            ["create", "--name", "b", "--driver", "docker-container",
             "--driver-opt", "image=moby/buildkit:v0.34.2"],
        ),
        (
            {"K1S0_BUILDKIT_IMAGE": "registry.example/buildkit:v0.34.2"},
            ["create", "--name", "b", "--driver", "docker-container",
             "--driver-opt", "image=registry.example/buildkit:v0.34.2"],
        ),
        (  # the e2e tests: the tests' buildkitd on loopback TCP, reached over act's host network
            {"K1S0_BUILDKIT_HOST": "tcp://127.0.0.1:1234"},
            ["create", "--name", "b", "--driver", "remote", "tcp://127.0.0.1:1234"],
        ),
    ],
)  # fmt: skip
def test_the_builder_buildx_creates(env: dict[str, str], argv: list[str]) -> None:
    endpoint = builder.buildkit_endpoint({"K1S0_BUILDX": "/bin/sh", **env})
    assert endpoint is not None
    assert endpoint.create_argv("b") == ["/bin/sh", *argv]


@pytest.mark.parametrize(
    ("settings", "env", "kind"),
    [
        # a runner: BuildKit in a container buildx starts, the classic builder if it cannot
        (BuildSettings("auto", "harbor", ("linux/amd64",)), {}, builder.AutoBuilder),
        # asked for by name, or for several platforms: BuildKit or a failed job, no fallback
        (BuildSettings("buildkit", "harbor", ("linux/amd64",)), {}, builder.BuildKitBuilder),
        (
            BuildSettings("auto", "harbor", ("linux/amd64", "linux/arm64")),
            {},
            builder.BuildKitBuilder,
        ),
        # a buildkitd given by address is the user's choice: no fallback either
        (
            BuildSettings("auto", "harbor", ("linux/amd64",)),
            {"K1S0_BUILDKIT_HOST": "tcp://127.0.0.1:1234"},
            builder.BuildKitBuilder,
        ),
    ],
)
def test_only_auto_on_the_runners_engine_may_fall_back(
    settings: BuildSettings, env: dict[str, str], kind: type
) -> None:
    chosen = builder.select(settings, None, {"K1S0_BUILDX": "/bin/sh", **env}, lambda _: None)  # type: ignore[arg-type]
    assert type(chosen) is kind
