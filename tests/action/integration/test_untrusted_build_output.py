"""A build whose own output prints workflow commands: the real engine's build stream reaches the
log through `Actions.info`, and none of its lines is read by the runner as a command."""

from __future__ import annotations

import io
from pathlib import Path

import docker
import pytest

from k1s0_action import engine
from k1s0_action.gha import Actions
from tests.action.unit.test_untrusted_output import commands
from tests.fixtures import BUSYBOX_IMAGE

pytestmark = pytest.mark.integration


def test_build_output_is_never_a_workflow_command(
    docker_api: docker.APIClient, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BUSYBOX_IMAGE}\n"
        "RUN echo '::warning::from the build' && echo '  ::add-mask::x' "
        "&& printf 'a\\r::error::y\\n' && echo 'step ##[warning]z'\n"
    )
    stream = io.StringIO()
    tag = f"k1s0.local/untrusted-output:{tmp_path.name.lower()}"
    built = engine.build(
        docker_api,
        engine.BuildRequest(
            context=tmp_path,
            dockerfile=tmp_path / "Dockerfile",
            tag=tag,
            build_args=(),
            labels=(),
            target="",
            platform="linux/amd64",
        ),
        Actions({}, stream).info,
    )
    try:
        log = stream.getvalue()
        assert "::warning::from the build" in log  # shown, escaped on its own line
        assert commands(log) == []
    finally:
        docker_api.remove_image(built.image_id, force=True)
