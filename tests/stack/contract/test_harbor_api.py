"""Harbor's REST API as LocalHarbor serves it: each operation the action relies on, for its success
and error statuses. The session's `harbor` fixture validates every exchange against the spec."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.testimages import push_raw_image
from k1s0_stack.trivy import REPORT_MIME

pytestmark = pytest.mark.integration
V10 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"


def encoded(repository: str) -> str:
    """Harbor's double encoding of a repository name in a path."""
    return quote(quote(repository, safe=""), safe="")


def errors(response: requests.Response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


def wait_scan(harbor: LocalHarbor, project: str, repo: str, ref: str, auth: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = requests.get(
            f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}/artifacts/{ref}",
            params={"with_scan_overview": "true"},
            auth=auth,
            timeout=10,
        ).json()
        overview = (got.get("scan_overview") or {}).get(REPORT_MIME)
        if overview and overview["scan_status"] in ("Success", "Error"):
            return dict(overview)
        time.sleep(0.2)
    raise AssertionError("scan did not finish")


@pytest.fixture
def pushed(harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot) -> tuple[str, str, str]:
    """(project, repository, digest) of a small image pushed under tag v1 to `team/app`."""
    digest = push_raw_image(
        harbor.url, f"{harbor_project}/team/app", "v1", (harbor_robot.name, harbor_robot.secret)
    )
    return harbor_project, "team/app", digest


# -- system -------------------------------------------------------------------------------------


def test_ping_and_systeminfo(harbor: LocalHarbor) -> None:
    ping = requests.get(f"{harbor.api}/ping", timeout=10)
    assert (ping.status_code, ping.text) == (200, "Pong")
    info = requests.get(f"{harbor.api}/systeminfo", timeout=10).json()
    assert info["harbor_version"].startswith("v2.15")
    assert info["registry_url"] == harbor.registry_host


def test_permissions_catalogue(harbor: LocalHarbor, harbor_robot: Robot) -> None:
    listed = requests.get(f"{harbor.api}/permissions", auth=harbor.admin, timeout=10).json()
    assert {"resource": "artifact-addition", "action": "read"} in listed["project"]
    assert {"resource": "tag-retention", "action": "operate"} not in listed["project"]
    robot = (harbor_robot.name, harbor_robot.secret)
    assert requests.get(f"{harbor.api}/permissions", auth=robot, timeout=10).status_code == 403


def test_system_cve_allowlist(harbor: LocalHarbor, harbor_robot: Robot) -> None:
    body = {"items": [{"cve_id": "CVE-2099-10005"}], "expires_at": None}
    assert (
        requests.put(
            f"{harbor.api}/system/CVEAllowlist", json=body, auth=harbor.admin, timeout=10
        ).status_code
        == 200
    )
    got = requests.get(f"{harbor.api}/system/CVEAllowlist", auth=harbor.admin, timeout=10).json()
    # Harbor's model omits the system list's zero id and project_id, and a null expires_at.
    assert got["items"] == [{"cve_id": "CVE-2099-10005"}]
    assert not {"id", "project_id", "expires_at"} & set(got)
    robot = (harbor_robot.name, harbor_robot.secret)
    readable = requests.get(f"{harbor.api}/system/CVEAllowlist", auth=robot, timeout=10)
    assert readable.status_code == 200  # any authenticated caller (sys_cve_allowlist.go)
    denied = requests.put(f"{harbor.api}/system/CVEAllowlist", json=body, auth=robot, timeout=10)
    assert denied.status_code == 403 and errors(denied) == ["FORBIDDEN"]
    assert requests.get(f"{harbor.api}/system/CVEAllowlist", timeout=10).status_code == 401
    requests.put(
        f"{harbor.api}/system/CVEAllowlist", json={"items": []}, auth=harbor.admin, timeout=10
    )


# -- projects -----------------------------------------------------------------------------------


def test_project_lifecycle(harbor: LocalHarbor) -> None:
    name = f"k1s0hb-{uuid.uuid4().hex[:8]}"
    metadata = {
        "auto_scan": "true",
        "prevent_vul": "true",
        "severity": "high",
        "reuse_sys_cve_allowlist": "false",
    }
    body = {
        "project_name": name,
        "metadata": metadata,
        "cve_allowlist": {"items": [{"cve_id": "CVE-2099-10005"}]},
    }
    created = requests.post(f"{harbor.api}/projects", json=body, auth=harbor.admin, timeout=10)
    assert created.status_code == 201
    project_id = created.headers["Location"].rsplit("/", 1)[1]
    again = requests.post(f"{harbor.api}/projects", json=body, auth=harbor.admin, timeout=10)
    assert again.status_code == 409 and errors(again) == ["CONFLICT"]

    by_name = requests.get(f"{harbor.api}/projects/{name}", auth=harbor.admin, timeout=10).json()
    by_id = requests.get(
        f"{harbor.api}/projects/{project_id}", auth=harbor.admin, timeout=10
    ).json()
    assert by_name == by_id
    # Only the keys given, plus Harbor's default "public"; the create ignores cve_allowlist.
    assert by_name["metadata"] == {**metadata, "public": "false"}
    assert by_name["cve_allowlist"]["items"] == []
    assert "expires_at" not in by_name["cve_allowlist"]
    given = {"cve_allowlist": {"items": [{"cve_id": "CVE-2099-10005"}], "expires_at": 4102444800}}
    requests.put(f"{harbor.api}/projects/{name}", json=given, auth=harbor.admin, timeout=10)
    allowlist = requests.get(f"{harbor.api}/projects/{name}", auth=harbor.admin, timeout=10).json()[
        "cve_allowlist"
    ]
    assert allowlist["items"] == [{"cve_id": "CVE-2099-10005"}]
    assert allowlist["expires_at"] == 4102444800

    assert (
        requests.head(
            f"{harbor.api}/projects", params={"project_name": name}, auth=harbor.admin, timeout=10
        ).status_code
        == 200
    )
    update = {"metadata": {"auto_scan": "false"}, "cve_allowlist": {"items": []}}
    assert (
        requests.put(
            f"{harbor.api}/projects/{name}", json=update, auth=harbor.admin, timeout=10
        ).status_code
        == 200
    )
    meta = requests.get(
        f"{harbor.api}/projects/{name}/metadatas/auto_scan", auth=harbor.admin, timeout=10
    )
    assert meta.json() == {"auto_scan": "false"}
    put_meta = requests.put(
        f"{harbor.api}/projects/{name}/metadatas/severity",
        json={"severity": "critical"},
        auth=harbor.admin,
        timeout=10,
    )
    assert put_meta.status_code == 200
    listed = requests.get(
        f"{harbor.api}/projects", params={"name": name}, auth=harbor.admin, timeout=10
    )
    assert [p["name"] for p in listed.json()] == [name] and listed.headers["X-Total-Count"] == "1"

    assert (
        requests.delete(f"{harbor.api}/projects/{name}", auth=harbor.admin, timeout=10).status_code
        == 200
    )
    missing = requests.get(f"{harbor.api}/projects/{name}", auth=harbor.admin, timeout=10)
    assert missing.status_code == 404 and errors(missing) == ["NOT_FOUND"]
    assert (
        requests.head(
            f"{harbor.api}/projects", params={"project_name": name}, auth=harbor.admin, timeout=10
        ).status_code
        == 404
    )
    assert (
        requests.delete(f"{harbor.api}/projects/{name}", auth=harbor.admin, timeout=10).status_code
        == 404
    )


def test_project_errors(harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot) -> None:
    bad = requests.post(
        f"{harbor.api}/projects", json={"project_name": "Bad Name"}, auth=harbor.admin, timeout=10
    )
    assert bad.status_code == 400 and errors(bad) == ["BAD_REQUEST"]
    anonymous = requests.post(f"{harbor.api}/projects", json={"project_name": "x"}, timeout=10)
    assert anonymous.status_code == 401
    robot = (harbor_robot.name, harbor_robot.secret)
    assert (
        requests.post(
            f"{harbor.api}/projects", json={"project_name": "x"}, auth=robot, timeout=10
        ).status_code
        == 403
    )
    assert (
        requests.get(f"{harbor.api}/projects/{harbor_project}", auth=robot, timeout=10).status_code
        == 200
    )
    other = harbor.create_project(f"k1s0hb-{uuid.uuid4().hex[:8]}")
    assert (
        requests.get(f"{harbor.api}/projects/{other['name']}", auth=robot, timeout=10).status_code
        == 403
    )


def test_project_with_repositories_cannot_be_deleted(
    harbor: LocalHarbor, pushed: tuple[str, str, str]
) -> None:
    project, _, _ = pushed
    refused = requests.delete(f"{harbor.api}/projects/{project}", auth=harbor.admin, timeout=10)
    assert refused.status_code == 412 and errors(refused) == ["PRECONDITION"]


# -- robots -------------------------------------------------------------------------------------


def test_project_robot_accounts(harbor: LocalHarbor, harbor_project: str) -> None:
    body = {
        "name": "builder",
        "level": "project",
        "duration": -1,
        "permissions": [
            {
                "kind": "project",
                "namespace": harbor_project,
                "access": [
                    {"resource": "repository", "action": "push"},
                    {"resource": "repository", "action": "pull"},
                ],
            }
        ],
    }
    created = requests.post(f"{harbor.api}/robots", json=body, auth=harbor.admin, timeout=10)
    assert created.status_code == 201
    robot = created.json()
    assert (
        robot["name"] == f"robot${harbor_project}+builder"
        and robot["secret"]
        and robot["expires_at"] == -1
    )
    assert (
        requests.post(f"{harbor.api}/robots", json=body, auth=harbor.admin, timeout=10).status_code
        == 409
    )
    bad = requests.post(
        f"{harbor.api}/robots", json={**body, "name": "Not_OK!"}, auth=harbor.admin, timeout=10
    )
    assert bad.status_code == 400

    project_id = harbor.harbor.project(harbor_project)["project_id"]
    listed = requests.get(
        f"{harbor.api}/robots",
        params={"q": f"Level=project,ProjectID={project_id}"},
        auth=harbor.admin,
        timeout=10,
    ).json()
    assert [r["name"] for r in listed] == [robot["name"]]
    assert "secret" not in listed[0]  # the secret is shown once, at creation

    as_robot = requests.post(
        f"{harbor.api}/robots", json=body, auth=(robot["name"], robot["secret"]), timeout=10
    )
    assert as_robot.status_code == 403
    assert (
        requests.delete(
            f"{harbor.api}/robots/{robot['id']}", auth=harbor.admin, timeout=10
        ).status_code
        == 200
    )
    assert (
        requests.delete(
            f"{harbor.api}/robots/{robot['id']}", auth=harbor.admin, timeout=10
        ).status_code
        == 404
    )
    gone = requests.get(
        f"{harbor.api}/projects/{harbor_project}", auth=(robot["name"], robot["secret"]), timeout=10
    )
    assert gone.status_code == 401


# -- repositories and artifacts ----------------------------------------------------------------


def test_repositories(
    harbor: LocalHarbor, pushed: tuple[str, str, str], harbor_robot: Robot
) -> None:
    project, repo, _ = pushed
    ci = (harbor_robot.name, harbor_robot.secret)  # the action's set: no repository:list/read
    refused = requests.get(f"{harbor.api}/projects/{project}/repositories", auth=ci, timeout=10)
    assert refused.status_code == 403 and errors(refused) == ["FORBIDDEN"]
    reader = harbor.create_robot(project, "repos", permissions=("pull", "repository-read"))
    robot = (reader.name, reader.secret)
    listed = requests.get(f"{harbor.api}/projects/{project}/repositories", auth=robot, timeout=10)
    assert [r["name"] for r in listed.json()] == [f"{project}/{repo}"]
    got = requests.get(
        f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}", auth=robot, timeout=10
    )
    assert got.json()["artifact_count"] == 1
    # Harbor routes on the raw path: encoded once or twice, a slash stays in the name
    # (repo_slash_*_encoded_artifacts.http; a raw slash is replayed in test_harbor_captures).
    once = requests.get(
        f"{harbor.api}/projects/{project}/repositories/{quote(repo, safe='')}",
        auth=robot,
        timeout=10,
    )
    assert once.status_code == 200 and once.json()["name"] == f"{project}/{repo}"
    missing = requests.get(
        f"{harbor.api}/projects/{project}/repositories/nope", auth=robot, timeout=10
    )
    assert missing.status_code == 404
    assert (
        requests.get(
            f"{harbor.api}/projects/nope-{uuid.uuid4().hex[:6]}/repositories",
            auth=harbor.admin,
            timeout=10,
        ).status_code
        == 404
    )
    assert (
        requests.delete(
            f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}", auth=robot, timeout=10
        ).status_code
        == 403
    )
    assert (
        requests.delete(
            f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}",
            auth=harbor.admin,
            timeout=10,
        ).status_code
        == 200
    )
    assert (
        requests.get(
            f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}", auth=robot, timeout=10
        ).status_code
        == 404
    )


def test_artifacts_list_get_and_overview(
    harbor: LocalHarbor, pushed: tuple[str, str, str], harbor_robot: Robot
) -> None:
    project, repo, digest = pushed
    robot = (harbor_robot.name, harbor_robot.secret)
    base = f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}/artifacts"
    listed = requests.get(base, params={"with_tag": "true"}, auth=robot, timeout=10)
    assert listed.headers["X-Total-Count"] == "1"
    assert listed.json()[0]["digest"] == digest and listed.json()[0]["tags"][0]["name"] == "v1"
    overview = wait_scan(harbor, project, repo, "v1", robot)
    assert overview["scan_status"] == "Success" and overview["severity"] == "None"
    assert overview["summary"] == {"total": 0, "fixable": 0, "summary": {}}

    by_digest = requests.get(
        f"{base}/{digest}", params={"with_scan_overview": "true"}, auth=robot, timeout=10
    ).json()
    assert list(by_digest["scan_overview"]) == [REPORT_MIME]
    no_tags = requests.get(
        f"{base}/{digest}", params={"with_tag": "false"}, auth=robot, timeout=10
    ).json()
    assert no_tags["tags"] is None and "scan_overview" not in no_tags
    assert no_tags["labels"] is None and no_tags["references"] is None
    assert no_tags["accessories"] is None
    only_v10 = requests.get(
        f"{base}/{digest}",
        params={"with_scan_overview": "true"},
        headers={"X-Accept-Vulnerabilities": V10},
        auth=robot,
        timeout=10,
    ).json()
    assert "scan_overview" not in only_v10
    missing = requests.get(f"{base}/nope", auth=robot, timeout=10)
    assert missing.status_code == 404 and errors(missing) == ["NOT_FOUND"]
    assert requests.get(f"{base}/{digest}", timeout=10).status_code == 401
    report = requests.get(f"{base}/{digest}/additions/vulnerabilities", auth=robot, timeout=10)
    assert report.json()[REPORT_MIME]["vulnerabilities"] == []
    v10 = requests.get(
        f"{base}/{digest}/additions/vulnerabilities",
        headers={"X-Accept-Vulnerabilities": V10},
        auth=robot,
        timeout=10,
    )
    assert v10.json() == {}


def test_scan_lifecycle_and_conflict(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot
) -> None:
    project = harbor_project
    robot = (harbor_robot.name, harbor_robot.secret)
    harbor.harbor.update_project(project, {"auto_scan": "false"}, None)
    digest = push_raw_image(harbor.url, f"{project}/slow", "v1", robot)
    base = f"{harbor.api}/projects/{project}/repositories/slow/artifacts/{digest}"
    assert (
        "scan_overview"
        not in requests.get(
            base, params={"with_scan_overview": "true"}, auth=robot, timeout=10
        ).json()
    )
    assert requests.get(f"{base}/additions/vulnerabilities", auth=robot, timeout=10).json() == {}

    harbor.set_scan_behaviour(f"{project}/slow", duration=3)
    assert requests.post(f"{base}/scan", auth=robot, timeout=10).status_code == 202
    conflict = requests.post(
        f"{base}/scan", json={"scan_type": "vulnerability"}, auth=robot, timeout=10
    )
    assert conflict.status_code == 409 and errors(conflict) == ["CONFLICT"]
    assert conflict.json()["errors"][0]["message"].startswith("a previous scan process is ")
    seen: list[str] = []
    while not seen or seen[-1] not in ("Success", "Error"):
        overview = requests.get(
            base, params={"with_scan_overview": "true"}, auth=robot, timeout=10
        ).json()
        status = (
            (overview.get("scan_overview") or {}).get(REPORT_MIME, {}).get("scan_status", "absent")
        )
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.05)
    assert seen[-2:] == ["Running", "Success"] and set(seen) <= {
        "absent",
        "Pending",
        "Running",
        "Success",
    }

    harbor.sbom.enabled = False  # a Harbor whose scanner has no SBOM (the SBOM is in test_attest)
    try:
        sbom = requests.post(f"{base}/scan", json={"scan_type": "sbom"}, auth=robot, timeout=10)
    finally:
        harbor.sbom.enabled = True
    assert sbom.status_code == 422
    no_scan = harbor.create_robot(project, "pullonly", permissions=("pull", "artifact-read"))
    assert (
        requests.post(f"{base}/scan", auth=(no_scan.name, no_scan.secret), timeout=10).status_code
        == 403
    )
    unknown = f"{harbor.api}/projects/{project}/repositories/slow/artifacts/sha256:{'0' * 64}/scan"
    assert requests.post(unknown, auth=robot, timeout=10).status_code == 404


def test_tags(harbor: LocalHarbor, pushed: tuple[str, str, str], harbor_robot: Robot) -> None:
    project, repo, digest = pushed
    robot = (harbor_robot.name, harbor_robot.secret)
    tags = f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}/artifacts/{digest}/tags"
    created = requests.post(tags, json={"name": "1.0.0"}, auth=robot, timeout=10)
    assert created.status_code == 201 and created.headers["Location"].endswith("/tags/1.0.0")
    assert requests.post(tags, json={"name": "1.0.0"}, auth=robot, timeout=10).status_code == 409
    assert requests.post(tags, json={"name": "v1"}, auth=robot, timeout=10).status_code == 409
    assert requests.post(tags, json={"name": "bad/tag"}, auth=robot, timeout=10).status_code == 400
    names = [t["name"] for t in requests.get(tags, auth=robot, timeout=10).json()]
    assert sorted(names) == ["1.0.0", "v1"]
    pulled = requests.get(
        f"{harbor.url}/v2/{project}/{repo}/manifests/1.0.0",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        auth=robot,
        timeout=10,
    )
    assert pulled.status_code == 200 and pulled.headers["Docker-Content-Digest"] == digest
    assert requests.delete(f"{tags}/1.0.0", auth=robot, timeout=10).status_code == 200
    assert requests.delete(f"{tags}/1.0.0", auth=robot, timeout=10).status_code == 404
    after = requests.get(
        f"{harbor.url}/v2/{project}/{repo}/manifests/1.0.0", auth=robot, timeout=10
    )
    assert after.status_code == 404
    reader = harbor.create_robot(project, "reader", permissions=("pull", "artifact-read"))
    assert (
        requests.post(
            tags, json={"name": "x"}, auth=(reader.name, reader.secret), timeout=10
        ).status_code
        == 403
    )


def test_delete_artifact(
    harbor: LocalHarbor, pushed: tuple[str, str, str], harbor_robot: Robot
) -> None:
    project, repo, digest = pushed
    robot = (harbor_robot.name, harbor_robot.secret)
    url = f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}/artifacts/{digest}"
    assert requests.delete(url, auth=robot, timeout=10).status_code == 403
    assert requests.delete(url, auth=harbor.admin, timeout=10).status_code == 200
    assert requests.get(url, auth=robot, timeout=10).status_code == 404
    assert requests.delete(url, auth=harbor.admin, timeout=10).status_code == 404
    assert (
        requests.get(
            f"{harbor.url}/v2/{project}/{repo}/manifests/{digest}", auth=robot, timeout=10
        ).status_code
        == 404
    )


def test_cosign_signature_is_an_accessory(
    harbor: LocalHarbor, pushed: tuple[str, str, str], harbor_robot: Robot
) -> None:
    project, repo, digest = pushed
    robot = (harbor_robot.name, harbor_robot.secret)
    signature_tag = digest.replace(":", "-") + ".sig"
    push_raw_image(
        harbor.url,
        f"{project}/{repo}",
        signature_tag,
        robot,
        files={"sig": b"{}"},
        layer_media_type="application/vnd.dev.cosign.simplesigning.v1+json",
    )
    base = f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}/artifacts"
    assert [a["digest"] for a in requests.get(base, auth=robot, timeout=10).json()] == [digest]
    accessories = requests.get(
        f"{base}/{digest}/accessories", auth=harbor.admin, timeout=10
    ).json()  # the action's robot has no accessory:list
    assert [a["type"] for a in accessories] == ["signature.cosign"]
    with_accessory = requests.get(
        f"{base}/{digest}", params={"with_accessory": "true"}, auth=harbor.admin, timeout=10
    )
    assert with_accessory.json()["accessories"][0]["subject_artifact_digest"] == digest


# -- retention ----------------------------------------------------------------------------------


def retention_policy(project_id: int, keep: int) -> dict[str, Any]:
    return {
        "algorithm": "or",
        "rules": [
            {
                "disabled": False,
                "action": "retain",
                "template": "latestPushedK",
                "params": {"latestPushedK": keep},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {
                    "repository": [
                        {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
                    ]
                },
            }
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "scope": {"level": "project", "ref": project_id},
    }


def test_retention_metadata(harbor: LocalHarbor, harbor_robot: Robot) -> None:
    robot = (harbor_robot.name, harbor_robot.secret)
    metadata = requests.get(f"{harbor.api}/retentions/metadatas", auth=robot, timeout=10).json()
    assert [t["rule_template"] for t in metadata["templates"]] == [
        "latestPushedK",
        "latestPulledN",
        "nDaysSinceLastPush",
        "nDaysSinceLastPull",
        "always",
    ]
    assert requests.get(f"{harbor.api}/retentions/metadatas", timeout=10).status_code == 401


def test_retention(harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot) -> None:
    robot = (harbor_robot.name, harbor_robot.secret)
    project_id = harbor.harbor.project(harbor_project)["project_id"]
    digests = [
        push_raw_image(
            harbor.url, f"{harbor_project}/svc", f"b{i}", robot, files={"n": str(i).encode()}
        )
        for i in range(3)
    ]
    created = requests.post(
        f"{harbor.api}/retentions",
        json=retention_policy(project_id, 2),
        auth=harbor.admin,
        timeout=10,
    )
    assert created.status_code == 201
    policy_url = harbor.url + created.headers["Location"]
    retention_id = created.headers["Location"].rsplit("/", 1)[1]
    project = requests.get(
        f"{harbor.api}/projects/{harbor_project}", auth=harbor.admin, timeout=10
    ).json()
    assert project["metadata"]["retention_id"] == retention_id
    again = requests.post(
        f"{harbor.api}/retentions",
        json=retention_policy(project_id, 2),
        auth=harbor.admin,
        timeout=10,
    )
    assert again.status_code == 400
    got = requests.get(policy_url, auth=harbor.admin, timeout=10).json()
    assert got["rules"][0]["params"] == {"latestPushedK": 2} and got["scope"]["ref"] == project_id
    assert (
        requests.put(
            policy_url, json=retention_policy(project_id, 1), auth=harbor.admin, timeout=10
        ).status_code
        == 200
    )
    dry = requests.post(
        f"{policy_url}/executions", json={"dry_run": True}, auth=harbor.admin, timeout=10
    )
    assert dry.status_code == 201
    artifacts = f"{harbor.api}/projects/{harbor_project}/repositories/svc/artifacts"
    assert len(requests.get(artifacts, auth=robot, timeout=10).json()) == 3
    assert (
        requests.post(
            f"{policy_url}/executions", json={"dry_run": False}, auth=harbor.admin, timeout=10
        ).status_code
        == 201
    )
    assert [a["digest"] for a in requests.get(artifacts, auth=robot, timeout=10).json()] == [
        digests[2]
    ]
    executions = requests.get(f"{policy_url}/executions", auth=harbor.admin, timeout=10).json()
    assert [e["dry_run"] for e in executions] == [False, True] and executions[0][
        "status"
    ] == "Succeed"
    assert requests.get(policy_url, auth=robot, timeout=10).status_code == 403
    assert (
        requests.get(f"{harbor.api}/retentions/999999", auth=harbor.admin, timeout=10).status_code
        == 500  # as Harbor answers (retention_get_missing_returns_500.http)
    )
    bad = retention_policy(project_id, 1)
    bad["rules"][0]["template"] = "unheardOf"
    assert requests.put(policy_url, json=bad, auth=harbor.admin, timeout=10).status_code == 400


# -- faults -------------------------------------------------------------------------------------


def test_injected_status_faults_then_recovery(harbor: LocalHarbor, harbor_project: str) -> None:
    url = f"{harbor.api}/projects/{harbor_project}"
    harbor.inject_fault("getProject", status=503, count=2, retry_after=3)
    first = requests.get(url, auth=harbor.admin, timeout=10)
    assert first.status_code == 503 and first.headers["Retry-After"] == "3"
    assert requests.get(url, auth=harbor.admin, timeout=10).status_code == 503
    assert requests.get(url, auth=harbor.admin, timeout=10).status_code == 200
    harbor.inject_fault("getProject", status=429, retry_after=1)
    limited = requests.get(url, auth=harbor.admin, timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    harbor.inject_fault("getProject", status=500)
    masked = requests.get(url, auth=harbor.admin, timeout=10)
    assert masked.json() == {"errors": [{"code": "UNKNOWN", "message": "internal server error"}]}


def test_injected_hang_and_drop(harbor: LocalHarbor, harbor_project: str) -> None:
    url = f"{harbor.api}/projects/{harbor_project}"
    harbor.inject_fault("getProject", status=None, hang=1.5)
    with pytest.raises(requests.Timeout):
        requests.get(url, auth=harbor.admin, timeout=0.5)
    harbor.inject_fault("getProject", drop=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(url, auth=harbor.admin, timeout=10)
    assert requests.get(url, auth=harbor.admin, timeout=10).status_code == 200


def test_scan_stuck_or_error(harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot) -> None:
    robot = (harbor_robot.name, harbor_robot.secret)
    harbor.set_scan_behaviour(f"{harbor_project}/broken", outcome="error")
    harbor.set_scan_behaviour(f"{harbor_project}/stuck", outcome="stuck")
    push_raw_image(harbor.url, f"{harbor_project}/broken", "v1", robot)
    push_raw_image(harbor.url, f"{harbor_project}/stuck", "v1", robot)
    overview = wait_scan(harbor, harbor_project, "broken", "v1", robot)
    assert overview["scan_status"] == "Error"
    assert not {"severity", "summary", "scanner"} & set(overview)
    time.sleep(1.5)
    stuck = requests.get(
        f"{harbor.api}/projects/{harbor_project}/repositories/stuck/artifacts/v1",
        params={"with_scan_overview": "true"},
        auth=robot,
        timeout=10,
    ).json()["scan_overview"][REPORT_MIME]
    assert stuck["scan_status"] == "Running"


# -- the contract check itself ------------------------------------------------------------------


@pytest.fixture
def spare_harbor(tmp_path: Path) -> Iterator[LocalHarbor]:
    started = LocalHarbor(tmp_path / "harbor", validate=True).start()
    yield started
    started.stop()


def test_a_response_off_the_contract_is_recorded(
    spare_harbor: LocalHarbor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from k1s0_stack.harbor.api import system as api

    assert requests.get(f"{spare_harbor.api}/systeminfo", timeout=10).status_code == 200
    assert spare_harbor.contract_violations() == []
    monkeypatch.setattr(api, "HARBOR_VERSION", 215)  # a number where the spec says string
    requests.get(f"{spare_harbor.api}/systeminfo", timeout=10)
    violations = spare_harbor.contract_violations()
    assert len(violations) == 1 and "harbor_version" in violations[0]
    requests.get(
        f"{spare_harbor.api}/projects/p/repositories/r/artifacts/x?with_tag=maybe", timeout=10
    )
    assert any("with_tag" in v for v in spare_harbor.contract_violations()[1:])


def test_validate_request_for_clients() -> None:
    from k1s0_stack.harbor.contract import validate_request

    good = requests.Request(
        "POST", "http://h/api/v2.0/projects", json={"project_name": "p"}
    ).prepare()
    assert validate_request(good) == []
    bad = requests.Request(
        "POST", "http://h/api/v2.0/projects/p/repositories/r/artifacts/d/tags", json={"nom": "x"}
    ).prepare()
    assert validate_request(bad)


def test_oci_referrers(
    harbor: LocalHarbor, pushed: tuple[str, str, str], harbor_robot: Robot
) -> None:
    """An OCI 1.1 artifact with a subject is an accessory, listed by the referrers API."""
    project, repo, digest = pushed
    robot = (harbor_robot.name, harbor_robot.secret)
    subject = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 1,
    }
    bundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
    referrer = push_raw_image(
        harbor.url, f"{project}/{repo}", None, robot, subject=subject, artifact_type=bundle
    )
    url = f"{harbor.url}/v2/{project}/{repo}/referrers/{digest}"
    index = requests.get(url, auth=robot, timeout=10).json()
    assert [(m["digest"], m["artifactType"]) for m in index["manifests"]] == [(referrer, bundle)]
    filtered = requests.get(url, params={"artifactType": "other"}, auth=robot, timeout=10)
    assert filtered.json()["manifests"] == [] and filtered.headers["OCI-Filters-Applied"]
    listed = requests.get(
        f"{harbor.api}/projects/{project}/repositories/{encoded(repo)}/artifacts",
        auth=robot,
        timeout=10,
    )
    assert [a["digest"] for a in listed.json()] == [digest]
