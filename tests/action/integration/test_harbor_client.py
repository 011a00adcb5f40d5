"""The action's Harbor client against LocalHarbor: which statuses it retries, and the one line it
gives for each failure it does not (every request is validated against Harbor's swagger)."""

from __future__ import annotations

import pytest

from k1s0_action.errors import HarborError
from k1s0_action.harbor import (
    HarborAuthError,
    HarborClient,
    HarborNotFoundError,
    HarborPermissionError,
)
from k1s0_action.retry import Backoff
from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.testimages import push_raw_image

pytestmark = pytest.mark.integration


@pytest.fixture
def pushed(harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot) -> tuple[str, str]:
    """A nested repository name (team/svc) with one artifact; returns (repository, digest)."""
    repository = "team/svc"
    digest = push_raw_image(
        harbor.url,
        f"{harbor_project}/{repository}",
        "1.0.0",
        (harbor_robot.name, harbor_robot.secret),
    )
    return repository, digest


def client(
    harbor: LocalHarbor, robot: Robot, secret: str | None = None
) -> tuple[HarborClient, list[float]]:
    waits: list[float] = []
    return (
        HarborClient(
            harbor.url,
            robot.name,
            robot.secret if secret is None else secret,
            backoff=Backoff(attempts=4, initial=0.1, maximum=1.0),
            sleep=waits.append,  # record the backoff instead of waiting it out
        ),
        waits,
    )


def test_nested_repository_names_are_encoded_twice(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: tuple[str, str]
) -> None:
    repository, digest = pushed
    harbor_client, _ = client(harbor, harbor_robot)
    assert harbor_client.get_artifact(harbor_project, repository, digest).digest == digest
    assert harbor_client.requests_sent == 1


def test_wrong_secret_is_one_request_and_names_the_inputs(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: tuple[str, str]
) -> None:
    repository, digest = pushed
    harbor_client, waits = client(harbor, harbor_robot, secret="not-the-secret")
    with pytest.raises(HarborAuthError, match="check the harbor-username and harbor-password"):
        harbor_client.get_artifact(harbor_project, repository, digest)
    assert harbor_client.requests_sent == 1
    assert waits == []


def test_missing_permission_names_the_operation(
    harbor: LocalHarbor, harbor_project: str, pushed: tuple[str, str]
) -> None:
    repository, digest = pushed
    pull_only = harbor.create_robot(harbor_project, "pullonly", permissions=("pull",))
    harbor_client, _ = client(harbor, pull_only)
    with pytest.raises(HarborPermissionError, match="lacks the permission for getArtifact"):
        harbor_client.get_artifact(harbor_project, repository, digest)
    assert harbor_client.requests_sent == 1


def test_missing_artifact_is_not_retried(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: tuple[str, str]
) -> None:
    repository, _ = pushed
    harbor_client, _ = client(harbor, harbor_robot)
    missing = "sha256:" + "0" * 64
    with pytest.raises(HarborNotFoundError, match="Harbor has no artifact"):
        harbor_client.get_artifact(harbor_project, repository, missing)
    assert harbor_client.requests_sent == 1


def test_transient_failures_are_retried_honouring_retry_after(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: tuple[str, str]
) -> None:
    repository, digest = pushed
    harbor.inject_fault("getArtifact", status=503, count=1)
    harbor.inject_fault("getArtifact", status=429, retry_after=2, count=1)
    harbor.inject_fault("getArtifact", status=None, drop=True, count=1)
    harbor_client, waits = client(harbor, harbor_robot)
    try:
        assert harbor_client.get_artifact(harbor_project, repository, digest).digest == digest
    finally:
        harbor.clear_faults()
    assert harbor_client.requests_sent == 4
    assert len(waits) == 3
    assert waits[1] >= 2.0


def test_persistent_failure_gives_up_with_one_clear_line(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: tuple[str, str]
) -> None:
    repository, digest = pushed
    harbor.inject_fault("getArtifact", status=502, count=4)
    harbor_client, _ = client(harbor, harbor_robot)
    try:
        with pytest.raises(HarborError, match="gave up after 4 attempts"):
            harbor_client.get_artifact(harbor_project, repository, digest)
    finally:
        harbor.clear_faults()
    assert harbor_client.requests_sent == 4
