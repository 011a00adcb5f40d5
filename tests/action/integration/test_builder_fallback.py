"""`builder: auto` on an engine where buildx's docker-container driver cannot start BuildKit: this
engine refuses privileged containers and cannot pull `moby/buildkit`, as some self-hosted runners
do. The real buildx tries, fails, and the classic builder builds the image, with a warning."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from k1s0_action import builder
from k1s0_stack import buildkit

pytestmark = pytest.mark.integration
BUSYBOX = "k1s0.local/busybox:1.35"


@pytest.mark.skipif(not buildkit.available(), reason="run scripts/buildkit.sh")
@pytest.mark.parametrize(
    ("buildkit_image", "why"),
    [
        # nobody can pull it here: a runner without access to Docker Hub
        (f"k1s0.local/no-such-buildkit:{uuid.uuid4().hex[:8]}", "no such host"),
        # present, but the engine refuses the privileged container buildx asks for
        (BUSYBOX, "unable to apply caps"),
    ],
)
def test_auto_builds_with_the_classic_builder_when_buildkit_cannot_start(
    docker_api: docker.APIClient, tmp_path: Path, buildkit_image: str, why: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN echo built > /built\n")
    env = {
        "K1S0_BUILDX": buildkit.binary("buildx"),
        "K1S0_BUILDKIT_IMAGE": buildkit_image,
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    settings = builder.BuildSettings("auto", "harbor", ("linux/amd64",))
    lines: list[str] = []
    backend = builder.select(settings, docker_api, env, lines.append)
    reference = f"k1s0-fallback/{uuid.uuid4().hex[:8]}:1"
    spec = builder.BuildSpec(
        context=tmp_path,
        dockerfile=tmp_path / "Dockerfile",
        image=reference.split(":")[0],
        tag="1",
        build_args=(),
        labels=(("org.opencontainers.image.version", "1.0.0"),),
        target="",
        platforms=("linux/amd64",),
        cache_ref="127.0.0.1:1/k1s0/never-read-cache:buildcache",
        push=False,
    )
    try:
        built = backend.build(spec, None, lines.append)
    finally:
        backend.close()
    try:
        assert backend.name == "classic"
        assert "BuildKit could not start" in built.cache_note and why in built.cache_note
        assert "builder: classic" in built.cache_note
        image = docker_api.inspect_image(reference)
        assert image["Id"] == built.image_id
        assert image["Config"]["Labels"]["org.opencontainers.image.version"] == "1.0.0"
        # buildx's own container (if it got as far as creating one) is gone with the builder
        assert not docker_api.containers(all=True, filters={"name": "buildx_buildkit_k1s0-"})
    finally:
        docker_api.remove_image(reference, force=True)
