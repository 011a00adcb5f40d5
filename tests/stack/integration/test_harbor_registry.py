"""docker login/push/pull through LocalHarbor's /v2/ with robot accounts, against the real engine
and the real distribution registry behind the server."""

from __future__ import annotations

import uuid
from typing import Any

import docker
import pytest
import requests

from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.testimages import build_test_image, push_raw_image, untag

pytestmark = pytest.mark.integration


def push(docker_api: Any, repository: str, tag: str, robot: Robot) -> list[str]:
    """Pushes with the engine; returns the errors it reported (empty on success)."""
    auth = {"username": robot.name, "password": robot.secret}
    lines = docker_api.push(repository, tag=tag, auth_config=auth, stream=True, decode=True)
    return [line["error"] for line in lines if "error" in line]


def pull(docker_api: Any, repository: str, tag: str, robot: Robot) -> None:
    docker_api.pull(
        repository, tag=tag, auth_config={"username": robot.name, "password": robot.secret}
    )


def test_ping_asks_for_basic_auth(harbor: LocalHarbor, harbor_robot: Robot) -> None:
    anonymous = requests.get(f"{harbor.url}/v2/", timeout=10)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith(
        "Basic realm="
    )
    assert (
        requests.get(f"{harbor.url}/v2/", auth=(harbor_robot.name, "wrong"), timeout=10).status_code
        == 401
    )
    assert (
        requests.get(
            f"{harbor.url}/v2/", auth=(harbor_robot.name, harbor_robot.secret), timeout=10
        ).status_code
        == 200
    )


def test_login_push_pull_with_a_robot(
    docker_api: Any, harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot
) -> None:
    login = docker_api.login(
        username=harbor_robot.name,
        password=harbor_robot.secret,
        registry=harbor.registry_host,
        reauth=True,
    )
    assert login["Status"] == "Login Succeeded"
    with pytest.raises(docker.errors.APIError):
        docker_api.login(
            username=harbor_robot.name, password="wrong", registry=harbor.registry_host, reauth=True
        )

    repository = f"{harbor.registry_host}/{harbor_project}/web/app"
    build_test_image(docker_api, "clean", f"{repository}:1.0.0")
    assert push(docker_api, repository, "1.0.0", harbor_robot) == []
    artifact = harbor.harbor.resolve(f"{harbor_project}/web/app", "1.0.0")
    assert artifact is not None
    assert artifact["manifest_media_type"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert [t["name"] for t in artifact["tags"]] == ["1.0.0"]

    untag(docker_api, f"{repository}:1.0.0")
    pull(docker_api, repository, "1.0.0", harbor_robot)
    pulled = docker_api.inspect_image(f"{repository}:1.0.0")
    assert any(d.endswith(artifact["digest"]) for d in pulled["RepoDigests"])
    untag(docker_api, f"{repository}:1.0.0")


def test_a_robot_cannot_touch_another_project(
    docker_api: Any, harbor: LocalHarbor, harbor_robot: Robot
) -> None:
    other = f"k1s0hb-{uuid.uuid4().hex[:8]}"
    harbor.create_project(other)
    owner = harbor.create_robot(other, "owner")
    repository = f"{harbor.registry_host}/{other}/app"
    build_test_image(docker_api, "clean", f"{repository}:1")
    assert push(docker_api, repository, "1", owner) == []

    refused = push(docker_api, repository, "1", harbor_robot)
    assert refused and "unauthorized" in refused[0].lower()
    with pytest.raises(docker.errors.APIError):
        pull(docker_api, repository, "1", harbor_robot)
    manifest = requests.get(
        f"{harbor.url}/v2/{other}/app/manifests/1",
        auth=(harbor_robot.name, harbor_robot.secret),
        timeout=10,
    )
    assert manifest.status_code == 401
    untag(docker_api, f"{repository}:1")


def test_pull_only_robot_cannot_push(
    docker_api: Any, harbor: LocalHarbor, harbor_project: str
) -> None:
    reader = harbor.create_robot(harbor_project, "reader", permissions=("pull",))
    repository = f"{harbor.registry_host}/{harbor_project}/readonly"
    build_test_image(docker_api, "clean", f"{repository}:1")
    refused = push(docker_api, repository, "1", reader)
    assert refused and "unauthorized" in refused[0].lower()
    untag(docker_api, f"{repository}:1")


def test_registry_faults(harbor: LocalHarbor, harbor_robot: Robot) -> None:
    harbor.inject_fault("registry", status=503, retry_after=2, username=harbor_robot.name)
    failed = requests.get(
        f"{harbor.url}/v2/", auth=(harbor_robot.name, harbor_robot.secret), timeout=10
    )
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert (
        requests.get(
            f"{harbor.url}/v2/", auth=(harbor_robot.name, harbor_robot.secret), timeout=10
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "harbor_project",
    [
        {
            "prevent_vul": True,
            "severity": "high",
            "reuse_sys_cve_allowlist": False,
            "cve_allowlist": [{"cve_id": "CVE-2099-10005"}],
        }
    ],
    indirect=True,
)
def test_prevent_vulnerable_images_from_being_pulled(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot
) -> None:
    """Harbor refuses a manifest GET (412) for an unscanned image or one with findings at or above
    the project's severity that its CVE allowlist does not exempt."""
    robot = (harbor_robot.name, harbor_robot.secret)
    harbor.set_scan_behaviour(f"{harbor_project}/gated", duration=2)
    push_raw_image(harbor.url, f"{harbor_project}/gated", "1", robot)
    early = requests.get(
        f"{harbor.url}/v2/{harbor_project}/gated/manifests/1", auth=robot, timeout=10
    )
    assert (
        early.status_code == 412 and early.json()["errors"][0]["code"] == "PROJECTPOLICYVIOLATION"
    )
    assert "vulnerability scanning cannot be pulled" in early.json()["errors"][0]["message"]
    oci = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    head = requests.head(
        f"{harbor.url}/v2/{harbor_project}/gated/manifests/1", headers=oci, auth=robot, timeout=10
    )
    assert head.status_code == 200  # Harbor checks the policy on GET only
