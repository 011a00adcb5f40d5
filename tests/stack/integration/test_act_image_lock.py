"""act's action image names are shared by every run: runs that need the same image share them,
a run that needs another image waits until those end (k1s0_stack.act.action_images)."""

from __future__ import annotations

import io
import tarfile
import threading
import time
import uuid
from pathlib import Path

import docker
import pytest

from k1s0_stack.act import action_images
from tests.fixtures import BUSYBOX_IMAGE

pytestmark = pytest.mark.integration


def image_with_label(api: docker.APIClient, value: str) -> str:
    dockerfile = f"FROM {BUSYBOX_IMAGE}\nLABEL dev.k1s0.lock-test={value}\n".encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        archive.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    tag = f"k1s0e2e/lock-test:{value}"
    for _ in api.build(fileobj=context, custom_context=True, tag=tag, rm=True, decode=True):
        pass
    return str(api.inspect_image(tag)["Id"])


def test_same_image_shares_and_another_image_waits(
    docker_api: docker.APIClient, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    first = image_with_label(docker_api, f"a{suffix}")
    second = image_with_label(docker_api, f"b{suffix}")
    shared = f"k1s0e2e/lock-test-act-{suffix}:latest"
    lock = tmp_path / "lock"
    events: list[str] = []
    a_inside = threading.Event()
    b_inside = threading.Event()

    def current() -> str:
        return str(docker_api.inspect_image(shared)["Id"])

    def run(name: str, image: str, entered: threading.Event, hold: float) -> None:
        with action_images(docker_api, image, [shared], lock):
            events.append(f"{name} in")
            entered.set()
            for _ in range(int(hold / 0.1)):
                assert current() == image  # nobody retags while a run holds the name
                time.sleep(0.1)
            events.append(f"{name} out")

    try:
        a = threading.Thread(target=run, args=("a", first, a_inside, 1.5))
        a2 = threading.Thread(target=run, args=("a2", first, threading.Event(), 0.5))
        a.start()
        assert a_inside.wait(30)
        a2.start()  # same image: goes in while a is inside
        b = threading.Thread(target=run, args=("b", second, b_inside, 0.3))
        b.start()  # another image: waits for a and a2
        for thread in (a, a2, b):
            thread.join(60)
        assert events.index("a2 in") < events.index("a out")
        assert events.index("b in") > max(events.index("a out"), events.index("a2 out"))
        assert current() == second
    finally:
        for tag in (shared, f"k1s0e2e/lock-test:a{suffix}", f"k1s0e2e/lock-test:b{suffix}"):
            docker_api.remove_image(tag, force=True)
