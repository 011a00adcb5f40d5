"""`k1s0-image retention-policy --apply` against LocalHarbor (every request checked against
Harbor's spec), then the policy executed on a repository: what R1-R3 keep and delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from k1s0_action.cli import main
from k1s0_action.harbor import HarborClient
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.testimages import push_raw_image


@pytest.fixture
def project(harbor: LocalHarbor) -> str:
    name = f"k1s0ret-{uuid.uuid4().hex[:8]}"
    harbor.create_project(name, auto_scan=False)
    return name


def apply(
    harbor: LocalHarbor,
    project: str,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> tuple[int, str, str]:
    argv = ["retention-policy", "--harbor-url", harbor.url, "--project", project, "--apply"]
    code = main([*argv, *extra], env=env)
    out, err = capsys.readouterr()
    return code, out, err


def test_apply_is_idempotent_and_the_policy_keeps_r1_to_r3(
    harbor: LocalHarbor, project: str, capsys: pytest.CaptureFixture[str]
) -> None:
    robot = harbor.create_robot(project, "retention", permissions=("retention", "project-read"))
    env = {"HARBOR_USERNAME": robot.name, "HARBOR_PASSWORD": robot.secret}
    admin = HarborClient(harbor.url, *harbor.admin)

    code, out, err = apply(harbor, project, env, capsys)
    assert (code, err) == (0, "")
    assert out.endswith(": create\n")
    policy_id = admin.get_project(project).retention_id
    assert policy_id and f"retention policy {policy_id} " in out
    created = admin.get_retention(policy_id)

    code, out, _ = apply(harbor, project, env, capsys)
    assert code == 0 and out.endswith(": unchanged\n")
    assert admin.get_retention(policy_id) == created

    code, out, _ = apply(harbor, project, env, capsys, "--schedule", "0 0 3 * * *")
    assert code == 0 and out == f"retention policy {policy_id} of project {project}: update\n"
    updated = admin.get_retention(policy_id)
    assert updated["trigger"]["settings"]["cron"] == "0 0 3 * * *"
    assert updated["rules"] == created["rules"]
    assert admin.get_project(project).retention_id == policy_id

    # A repository: 12 releases (build tag pushed, version tag promoted), `latest` on the newest,
    # branch builds pushed 31 and 8 days ago (the backstop is 30 days) and one pushed now.
    repository = "app"
    pushed: dict[str, tuple[str, int]] = {}  # first tag -> (digest, days old)

    def push(tag: str, days_old: int, *promoted: str) -> None:
        digest = push_raw_image(
            harbor.url, f"{project}/{repository}", tag, harbor.admin, files={"v": tag.encode()}
        )
        for name in promoted:
            admin.create_tag(project, repository, digest, name)
        pushed[tag] = (digest, days_old)

    for minor in range(1, 13):
        push(f"1.{minor}.0-abc{minor:04d}", 100 - minor, f"1.{minor}.0")
    admin.create_tag(project, repository, pushed["1.12.0-abc0012"][0], "latest")
    push("feature-old-1234567", 31)
    push("feature-week-7654321", 8)
    push("feature-new-89abcde", 0)
    # No API backdates a push: age the artifacts in LocalHarbor's own records.
    with harbor.harbor.store.transaction() as data:
        for artifact in data["artifacts"].values():
            for digest, days_old in pushed.values():
                if artifact["digest"] == digest and artifact["repository"].startswith(project):
                    moment = datetime.now(UTC) - timedelta(days=days_old, minutes=1)
                    artifact["push_time"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    response = requests.post(
        f"{harbor.api}/retentions/{policy_id}/executions",
        json={"dry_run": False},
        auth=harbor.admin,
        timeout=60,
    )
    assert response.status_code == 201, response.text

    left = {tag for a in admin.list_artifacts(project, repository) for tag in a.tags}
    kept_versions = {f"1.{minor}.0" for minor in range(3, 13)}
    assert left == (
        kept_versions
        | {f"{v}-abc{int(v.split('.')[1]):04d}" for v in kept_versions}
        | {"latest", "feature-week-7654321", "feature-new-89abcde"}
    )
    for gone in ("1.1.0", "1.2.0", "feature-old-1234567"):
        manifest = requests.get(
            f"{harbor.url}/v2/{project}/{repository}/manifests/{gone}",
            auth=harbor.admin,
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            timeout=10,
        )
        assert manifest.status_code == 404, gone


@pytest.mark.parametrize("case", ["no such project", "wrong password"])
def test_apply_errors_end_in_one_line(
    harbor: LocalHarbor, project: str, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name, secret = harbor.admin
    if case == "no such project":
        project = project + "-missing"
    else:
        secret += "-wrong"
    env = {"HARBOR_USERNAME": name, "HARBOR_PASSWORD": secret}
    code, out, err = apply(harbor, project, env, capsys)
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and err.count("\n") == 1
    assert secret not in err
