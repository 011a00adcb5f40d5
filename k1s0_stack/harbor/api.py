"""Harbor's REST API (/api/v2.0) over the service; every view's endpoint name is the swagger
operationId, which is also what faults are injected by."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from flask import Blueprint, Response, g, request

if TYPE_CHECKING:
    from k1s0_stack.harbor.server import LocalHarbor

from k1s0_stack.harbor.sbom import sbom_overview
from k1s0_stack.harbor.service import (
    Harbor,
    HarborError,
    Principal,
    accepted_mimes,
    bad_request,
    not_found,
    retained,
    scan_overview,
)
from k1s0_stack.harbor.store import now
from k1s0_stack.trivy import REPORT_MIME

API = "/api/v2.0"
HARBOR_VERSION = "v2.15.2-k1s0"


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json"
    )


def errors_response(status: int, code: str, message: str) -> Response:
    return json_response({"errors": [{"code": code, "message": message}]}, status)


def empty(status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(b"", status=status, headers=dict(headers or {}))


def principal() -> Principal | None:
    found: Principal | None = g.get("principal")
    return found


def page(items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    number = max(int(request.args.get("page", 1)), 1)
    size = min(max(int(request.args.get("page_size", 10)), 1), 100)
    return items[(number - 1) * size : number * size], {"X-Total-Count": str(len(items))}


def flag(name: str, default: bool) -> bool:
    value = request.args.get(name)
    return default if value is None else value.lower() == "true"


def body() -> dict[str, Any]:
    try:
        data = request.get_json(force=True, silent=False) if request.get_data() else {}
    except Exception as exc:
        raise bad_request("invalid JSON body") from exc
    if not isinstance(data, dict):
        raise bad_request("the request body must be a JSON object")
    return data


def make_api(ctx: LocalHarbor) -> Blueprint:
    """The API blueprint of the running server `ctx`."""
    bp = Blueprint("harbor_api", __name__)
    harbor: Harbor = ctx.harbor

    def route(
        rule: str, operation: str, methods: list[str]
    ) -> Callable[[Callable[..., Response]], Any]:
        return bp.route(API + rule, endpoint=operation, methods=methods)

    # -- system -----------------------------------------------------------------------------

    @route("/ping", "getPing", ["GET"])
    def get_ping() -> Response:
        return Response("Pong", mimetype="text/plain")

    @route("/systeminfo", "getSystemInfo", ["GET"])
    def get_system_info() -> Response:
        return json_response(
            {
                "auth_mode": "db_auth",
                "primary_auth_mode": False,
                "harbor_version": HARBOR_VERSION,
                "registry_url": ctx.registry_host,
                "external_url": ctx.url,
                "project_creation_restriction": "adminonly",
                "self_registration": False,
                "has_ca_root": False,
                "read_only": False,
                "notification_enable": True,
                "current_time": now(),
                "banner_message": "",
            }
        )

    @route("/system/CVEAllowlist", "getSystemCVEAllowlist", ["GET"])
    def get_system_allowlist() -> Response:
        if principal() is None:
            raise HarborError(401, "UNAUTHORIZED", "unauthorized")
        return json_response(harbor.system_allowlist())

    @route("/system/CVEAllowlist", "putSystemCVEAllowlist", ["PUT"])
    def put_system_allowlist() -> Response:
        harbor.require_admin(principal())
        harbor.set_system_allowlist(body())
        return empty()

    # -- projects ---------------------------------------------------------------------------

    def project_json(project: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "project_id": project["project_id"],
            "owner_id": 1,
            "owner_name": "admin",
            "name": project["name"],
            "creation_time": project["creation_time"],
            "update_time": project["update_time"],
            "deleted": False,
            "togglable": True,
            "current_user_role_id": 1,
            "current_user_role_ids": [1],
            "repo_count": harbor.repo_count(project["name"]),
            "metadata": dict(project["metadata"]),
            "cve_allowlist": project["cve_allowlist"],
        }

    def readable_project(name_or_id: str) -> dict[str, Any]:
        project = harbor.project(name_or_id, request.headers.get("X-Is-Resource-Name") == "true")
        who = principal()
        if who is None:
            raise HarborError(401, "UNAUTHORIZED", "unauthorized")
        robot = None if who.admin else harbor.robot(int(who.robot_id or 0))
        if robot is not None and robot["project"] != project["name"]:
            raise HarborError(403, "FORBIDDEN", "forbidden")
        return project

    @route("/projects", "headProject", ["HEAD"])
    def head_project() -> Response:
        name = request.args.get("project_name", "")
        if not name:
            raise bad_request("project_name is required")
        harbor.project(name, by_name=True)
        return empty()

    @route("/projects", "listProjects", ["GET"])
    def list_projects() -> Response:
        who = principal()
        if who is None:
            raise HarborError(401, "UNAUTHORIZED", "unauthorized")
        projects = harbor.projects()
        if not who.admin:
            mine = harbor.robot(int(who.robot_id or 0))["project"]
            projects = [p for p in projects if p["name"] == mine]
        name = request.args.get("name")
        if name:
            projects = [p for p in projects if name in p["name"]]
        shown, headers = page(sorted(projects, key=lambda p: p["project_id"]))
        return json_response([project_json(p) for p in shown], headers=headers)

    @route("/projects", "createProject", ["POST"])
    def create_project() -> Response:
        harbor.require_admin(principal())
        req = body()
        name = str(req.get("project_name") or "")
        project = harbor.create_project(name, req.get("metadata"), req.get("cve_allowlist"))
        by_name = request.headers.get("X-Resource-Name-In-Location") == "true"
        ref = project["name"] if by_name else str(project["project_id"])
        return empty(201, {"Location": f"{API}/projects/{ref}"})

    @route("/projects/<project_name_or_id>", "getProject", ["GET"])
    def get_project(project_name_or_id: str) -> Response:
        return json_response(project_json(readable_project(project_name_or_id)))

    @route("/projects/<project_name_or_id>", "updateProject", ["PUT"])
    def update_project(project_name_or_id: str) -> Response:
        harbor.require_admin(principal())
        project = harbor.project(
            project_name_or_id, request.headers.get("X-Is-Resource-Name") == "true"
        )
        req = body()
        harbor.update_project(project["name"], req.get("metadata"), req.get("cve_allowlist"))
        return empty()

    @route("/projects/<project_name_or_id>", "deleteProject", ["DELETE"])
    def delete_project(project_name_or_id: str) -> Response:
        harbor.require_admin(principal())
        project = harbor.project(
            project_name_or_id, request.headers.get("X-Is-Resource-Name") == "true"
        )
        harbor.delete_project(project["name"])
        return empty()

    @route("/projects/<project_name_or_id>/metadatas/<meta_name>", "getProjectMetadata", ["GET"])
    def get_project_metadata(project_name_or_id: str, meta_name: str) -> Response:
        project = readable_project(project_name_or_id)
        if meta_name not in project["metadata"]:
            raise not_found(f"metadata {meta_name} of project {project['name']} not found")
        return json_response({meta_name: project["metadata"][meta_name]})

    @route("/projects/<project_name_or_id>/metadatas/<meta_name>", "updateProjectMetadata", ["PUT"])
    def update_project_metadata(project_name_or_id: str, meta_name: str) -> Response:
        harbor.require_admin(principal())
        project = harbor.project(
            project_name_or_id, request.headers.get("X-Is-Resource-Name") == "true"
        )
        req = body()
        if set(req) != {meta_name}:
            raise bad_request(f"the body must hold exactly the metadata {meta_name}")
        harbor.update_project(project["name"], req, None)
        return empty()

    # -- robots -----------------------------------------------------------------------------

    def robot_json(robot: Mapping[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in robot.items() if k not in ("secret_hash", "project")}
        return shown

    @route("/robots", "ListRobot", ["GET"])
    def list_robots() -> Response:
        harbor.require_admin(principal())
        robots = harbor.robots()
        for clause in (request.args.get("q") or "").split(","):
            key, _, value = clause.partition("=")
            if key == "Level":
                robots = [r for r in robots if r["level"] == value]
            elif key == "ProjectID":
                names = [p["name"] for p in harbor.projects() if str(p["project_id"]) == value]
                robots = [r for r in robots if r["project"] in names]
        shown, headers = page(sorted(robots, key=lambda r: r["id"]))
        return json_response([robot_json(r) for r in shown], headers=headers)

    @route("/robots", "CreateRobot", ["POST"])
    def create_robot() -> Response:
        harbor.require_admin(principal())
        req = body()
        robot, secret = harbor.create_robot(
            name=str(req.get("name") or ""),
            level=str(req.get("level") or ""),
            permissions=req.get("permissions") or [],
            duration=int(req.get("duration", -1)),
            description=str(req.get("description") or ""),
            secret=req.get("secret") or None,
        )
        created = {
            "id": robot["id"],
            "name": robot["name"],
            "secret": secret,
            "creation_time": robot["creation_time"],
            "expires_at": robot["expires_at"],
        }
        return json_response(created, 201, {"Location": f"{API}/robots/{robot['id']}"})

    @route("/robots/<int:robot_id>", "GetRobotByID", ["GET"])
    def get_robot(robot_id: int) -> Response:
        harbor.require_admin(principal())
        return json_response(robot_json(harbor.robot(robot_id)))

    @route("/robots/<int:robot_id>", "DeleteRobot", ["DELETE"])
    def delete_robot(robot_id: int) -> Response:
        harbor.require_admin(principal())
        harbor.delete_robot(robot_id)
        return empty()

    # -- repositories -----------------------------------------------------------------------

    def repo_name(encoded: str) -> str:
        # Harbor's clients encode a slash in a repository name twice; the server decoded once.
        return unquote(encoded)

    def repository_json(repo: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": repo["id"],
            "project_id": repo["project_id"],
            "name": repo["name"],
            "artifact_count": harbor.artifact_count(repo["name"]),
            "pull_count": repo["pull_count"],
            "creation_time": repo["creation_time"],
            "update_time": repo["update_time"],
        }

    @route("/projects/<project_name>/repositories", "listRepositories", ["GET"])
    def list_repositories(project_name: str) -> Response:
        harbor.project(project_name, by_name=True)
        harbor.require(principal(), project_name, "repository", "list")
        shown, headers = page(harbor.repositories(project_name))
        return json_response([repository_json(r) for r in shown], headers=headers)

    @route("/projects/<project_name>/repositories/<repository_name>", "getRepository", ["GET"])
    def get_repository(project_name: str, repository_name: str) -> Response:
        harbor.project(project_name, by_name=True)
        harbor.require(principal(), project_name, "repository", "read")
        return json_response(
            repository_json(harbor.repository(project_name, repo_name(repository_name)))
        )

    @route(
        "/projects/<project_name>/repositories/<repository_name>", "deleteRepository", ["DELETE"]
    )
    def delete_repository(project_name: str, repository_name: str) -> Response:
        harbor.project(project_name, by_name=True)
        harbor.require(principal(), project_name, "repository", "delete")
        for artifact in harbor.delete_repository(project_name, repo_name(repository_name)):
            ctx.delete_manifest(artifact["repository"], artifact["digest"])
        return empty()

    # -- artifacts --------------------------------------------------------------------------

    def tags_json(artifact: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "id": t["id"],
                "repository_id": artifact["repository_id"],
                "artifact_id": artifact["id"],
                "name": t["name"],
                "push_time": t["push_time"],
                "pull_time": t["pull_time"],
                "immutable": False,
            }
            for t in artifact["tags"]
        ]

    def artifact_json(artifact: Mapping[str, Any], detail: bool) -> dict[str, Any]:
        project, _, name = artifact["repository"].partition("/")
        base = f"{API}/projects/{project}/repositories/{quote(quote(name, safe=''), safe='')}"
        shown: dict[str, Any] = {
            "id": artifact["id"],
            "type": "IMAGE",
            "media_type": artifact["media_type"],
            "manifest_media_type": artifact["manifest_media_type"],
            "project_id": artifact["project_id"],
            "repository_id": artifact["repository_id"],
            "repository_name": artifact["repository"],
            "digest": artifact["digest"],
            "size": artifact["size"],
            "push_time": artifact["push_time"],
            "pull_time": artifact["pull_time"],
            "extra_attrs": artifact["extra_attrs"],
            "addition_links": {
                "build_history": {
                    "absolute": False,
                    "href": f"{base}/artifacts/{artifact['digest']}/additions/build_history",
                },
                "vulnerabilities": {
                    "absolute": False,
                    "href": f"{base}/artifacts/{artifact['digest']}/additions/vulnerabilities",
                },
            },
        }
        if artifact.get("artifact_type"):
            shown["artifact_type"] = artifact["artifact_type"]
        if artifact["annotations"]:
            shown["annotations"] = artifact["annotations"]
        if artifact["references"]:
            shown["references"] = [
                {k: v for k, v in ref.items() if v is not None} for ref in artifact["references"]
            ]
        if flag("with_tag", True) and artifact["tags"]:
            shown["tags"] = tags_json(artifact)
        if flag("with_scan_overview", False):
            overview = scan_overview(
                artifact.get("scan"), request.headers.get("X-Accept-Vulnerabilities")
            )
            if overview is not None:
                shown["scan_overview"] = overview
        if flag("with_sbom_overview", False) and (found_sbom := sbom_overview(dict(artifact))):
            shown["sbom_overview"] = found_sbom
        if flag("with_accessory", False) or detail:
            found = harbor.accessories(artifact["repository"], artifact["digest"])
            if found and flag("with_accessory", False):
                shown["accessories"] = [accessory_json(a, artifact) for a in found]
        return shown

    def accessory_json(accessory: Mapping[str, Any], subject: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": accessory["id"],
            "artifact_id": accessory["id"],
            "subject_artifact_id": subject["id"],
            "subject_artifact_digest": subject["digest"],
            "subject_artifact_repo": subject["repository"],
            "size": accessory["size"],
            "digest": accessory["digest"],
            "type": accessory["accessory_type"],
            "icon": "",
            "creation_time": accessory["push_time"],
        }

    def find_artifact(
        project_name: str, repository_name: str, reference: str, resource: str, action: str
    ) -> dict[str, Any]:
        harbor.project(project_name, by_name=True)
        harbor.require(principal(), project_name, resource, action)
        return harbor.artifact(project_name, repo_name(repository_name), reference)

    artifacts_rule = "/projects/<project_name>/repositories/<repository_name>/artifacts"
    artifact_rule = artifacts_rule + "/<reference>"

    @route(artifacts_rule, "listArtifacts", ["GET"])
    def list_artifacts(project_name: str, repository_name: str) -> Response:
        harbor.project(project_name, by_name=True)
        harbor.require(principal(), project_name, "artifact", "list")
        artifacts = harbor.artifacts(project_name, repo_name(repository_name))
        shown, headers = page(artifacts)
        return json_response([artifact_json(a, False) for a in shown], headers=headers)

    @route("/projects/<project_name_or_id>/artifacts", "listArtifactsOfProject", ["GET"])
    def list_artifacts_of_project(project_name_or_id: str) -> Response:
        # Harbor: every repository's artifacts, accessories left out, newest push first.
        project = harbor.project(
            project_name_or_id, request.headers.get("X-Is-Resource-Name") == "true"
        )
        name = project["name"]
        harbor.require(principal(), name, "artifact", "list")
        artifacts = [
            artifact
            for repo in harbor.repositories(name)
            for artifact in harbor.artifacts(name, repo["name"].partition("/")[2])
        ]
        artifacts.sort(key=lambda a: (a["push_time"], a["id"]), reverse=True)
        shown, headers = page(artifacts)
        return json_response([artifact_json(a, False) for a in shown], headers=headers)

    @route(artifact_rule, "getArtifact", ["GET"])
    def get_artifact(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "artifact", "read")
        return json_response(artifact_json(artifact, True))

    @route(artifact_rule, "deleteArtifact", ["DELETE"])
    def delete_artifact(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "artifact", "delete")
        for gone in harbor.delete_artifact(int(artifact["id"])):
            ctx.delete_manifest(gone["repository"], gone["digest"])
        return empty()

    @route(artifact_rule + "/scan", "scanArtifact", ["POST"])
    def scan_artifact(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "scan", "create")
        scan_type = body().get("scan_type", "vulnerability")
        if scan_type == "sbom":
            ctx.sbom.request(artifact)
            return empty(202)
        if scan_type != "vulnerability":
            raise HarborError(
                422, "UNPROCESSABLE_ENTITY", f"scan type {scan_type} is not supported"
            )
        ctx.scanner.request(artifact)
        return empty(202)

    @route(artifact_rule + "/additions/vulnerabilities", "getVulnerabilitiesAddition", ["GET"])
    def get_vulnerabilities(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(
            project_name, repository_name, reference, "artifact-addition", "read"
        )
        scan = artifact.get("scan") or {}
        report: dict[str, Any] = {}
        accepted = accepted_mimes(request.headers.get("X-Accept-Vulnerabilities"))
        if scan.get("status") == "Success" and REPORT_MIME in accepted:
            report[REPORT_MIME] = scan["report"]
        return json_response(report)

    @route(artifact_rule + "/additions/sbom", "getAddition", ["GET"])
    def get_sbom_addition(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(
            project_name, repository_name, reference, "artifact-addition", "read"
        )
        document = ctx.sbom.document(artifact)
        if document is None:
            raise HarborError(404, "NOT_FOUND", f"addition sbom of {reference} not found")
        return json_response(document)

    @route(artifact_rule + "/accessories", "listAccessories", ["GET"])
    def list_accessories(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "accessory", "list")
        found = harbor.accessories(artifact["repository"], artifact["digest"])
        shown, headers = page(found)
        return json_response([accessory_json(a, artifact) for a in shown], headers=headers)

    @route(artifact_rule + "/tags", "createTag", ["POST"])
    def create_tag(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "tag", "create")
        name = str(body().get("name") or "")
        if not name or len(name) > 128 or name.startswith((".", "-")) or "/" in name:
            raise bad_request(f"invalid tag name: {name!r}")
        harbor.create_tag(int(artifact["id"]), name)
        location = f"{request.path}/{name}"
        return empty(201, {"Location": location})

    @route(artifact_rule + "/tags", "listTags", ["GET"])
    def list_tags(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "tag", "list")
        shown, headers = page(tags_json(artifact))
        return json_response(shown, headers=headers)

    @route(artifact_rule + "/tags/<tag_name>", "deleteTag", ["DELETE"])
    def delete_tag(
        project_name: str, repository_name: str, reference: str, tag_name: str
    ) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "tag", "delete")
        harbor.delete_tag(int(artifact["id"]), tag_name)
        return empty()

    # -- tag retention ----------------------------------------------------------------------

    def retention_project(policy: Mapping[str, Any]) -> dict[str, Any]:
        scope = policy.get("scope") or {}
        if scope.get("level") != "project" or not isinstance(scope.get("ref"), int):
            raise bad_request("retention scope must be {level: project, ref: <project id>}")
        return harbor.project(str(scope["ref"]))

    def checked_rules(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
        if policy.get("algorithm", "or") != "or":
            raise bad_request('retention algorithm must be "or"')
        rules = []
        for priority, rule in enumerate(policy.get("rules") or [], start=1):
            if rule.get("action", "retain") != "retain":
                raise bad_request('retention rule action must be "retain"')
            if rule.get("template") not in (
                "always",
                "latestPushedK",
                "latestPulledN",
                "nDaysSinceLastPush",
                "nDaysSinceLastPull",
            ):
                raise bad_request(f"unsupported retention template {rule.get('template')}")
            rules.append({**rule, "id": priority, "priority": priority, "action": "retain"})
        if len(rules) > 15:
            raise bad_request("a retention policy holds at most 15 rules")
        return rules

    def retention(retention_id: int, action: str) -> dict[str, Any]:
        with harbor.store.lock:
            policy = harbor.store.data["retentions"].get(str(retention_id))
        if policy is None:
            raise not_found(f"retention policy {retention_id} not found")
        project = harbor.project(str(policy["scope"]["ref"]))
        harbor.require(principal(), project["name"], "tag-retention", action)
        return dict(policy)

    def policy_json(policy: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in policy.items() if k != "executions"}

    @route("/retentions", "createRetention", ["POST"])
    def create_retention() -> Response:
        req = body()
        project = retention_project(req)
        harbor.require(principal(), project["name"], "tag-retention", "create")
        if project["metadata"].get("retention_id"):
            raise bad_request(f"project {project['name']} already has a retention policy")
        policy_id = harbor.store.new_id()
        policy = {
            "id": policy_id,
            "algorithm": "or",
            "rules": checked_rules(req),
            "trigger": req.get("trigger") or {"kind": "Schedule", "settings": {"cron": ""}},
            "scope": {"level": "project", "ref": project["project_id"]},
            "executions": [],
        }
        with harbor.store.transaction() as data:
            data["retentions"][str(policy_id)] = policy
        harbor.update_project(project["name"], {"retention_id": str(policy_id)}, None)
        return empty(201, {"Location": f"{API}/retentions/{policy_id}"})

    @route("/retentions/<int:retention_id>", "getRetention", ["GET"])
    def get_retention(retention_id: int) -> Response:
        return json_response(policy_json(retention(retention_id, "read")))

    @route("/retentions/<int:retention_id>", "updateRetention", ["PUT"])
    def update_retention(retention_id: int) -> Response:
        retention(retention_id, "update")
        req = body()
        rules = checked_rules(req)
        with harbor.store.transaction() as data:
            stored = data["retentions"][str(retention_id)]
            stored["rules"] = rules
            if req.get("trigger"):
                stored["trigger"] = req["trigger"]
        return empty()

    @route("/retentions/<int:retention_id>/executions", "triggerRetentionExecution", ["POST"])
    def trigger_retention(retention_id: int) -> Response:
        policy = retention(retention_id, "operate")
        dry_run = bool(body().get("dry_run", False))
        project = harbor.project(str(policy["scope"]["ref"]))
        started = now()
        with harbor.store.lock:
            candidates = [
                dict(a)
                for a in harbor.store.data["artifacts"].values()
                if a["repository"].startswith(project["name"] + "/") and not a.get("accessory_of")
            ]
        _, doomed = retained(candidates, policy["rules"], project["name"])
        if not dry_run:
            for artifact in doomed:
                for gone in harbor.delete_artifact(int(artifact["id"])):
                    ctx.delete_manifest(gone["repository"], gone["digest"])
        execution_id = harbor.store.new_id()
        with harbor.store.transaction() as data:
            data["retentions"][str(retention_id)]["executions"].append(
                {
                    "id": execution_id,
                    "policy_id": retention_id,
                    "start_time": started,
                    "end_time": now(),
                    "status": "Succeed",
                    "trigger": "MANUAL",
                    "dry_run": dry_run,
                    "deleted": [f"{a['repository']}@{a['digest']}" for a in doomed],
                }
            )
        return empty(
            201, {"Location": f"{API}/retentions/{retention_id}/executions/{execution_id}"}
        )

    @route("/retentions/<int:retention_id>/executions", "listRetentionExecutions", ["GET"])
    def list_retention_executions(retention_id: int) -> Response:
        policy = retention(retention_id, "list")
        executions = sorted(policy["executions"], key=lambda e: e["id"], reverse=True)
        shown, headers = page([{k: v for k, v in e.items() if k != "deleted"} for e in executions])
        return json_response(shown, headers=headers)

    return bp
