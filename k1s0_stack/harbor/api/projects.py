"""Projects, their metadata and CVE allowlists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, request

from k1s0_stack.harbor.errors import HarborError, bad_request, not_found
from k1s0_stack.harbor.records import Project
from k1s0_stack.harbor.web import (
    API,
    ServerContext,
    body,
    caller,
    empty,
    json_response,
    page,
    router,
)


def register(bp: Blueprint, ctx: ServerContext) -> None:
    route = router(bp)
    harbor = ctx.harbor

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

    def readable_project(name_or_id: str) -> Project:
        project = harbor.project(name_or_id, request.headers.get("X-Is-Resource-Name") == "true")
        who = caller()
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
        who = caller()
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
        harbor.require_admin(caller())
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
        harbor.require_admin(caller())
        project = harbor.project(
            project_name_or_id, request.headers.get("X-Is-Resource-Name") == "true"
        )
        req = body()
        harbor.update_project(project["name"], req.get("metadata"), req.get("cve_allowlist"))
        return empty()

    @route("/projects/<project_name_or_id>", "deleteProject", ["DELETE"])
    def delete_project(project_name_or_id: str) -> Response:
        harbor.require_admin(caller())
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
        harbor.require_admin(caller())
        project = harbor.project(
            project_name_or_id, request.headers.get("X-Is-Resource-Name") == "true"
        )
        req = body()
        if set(req) != {meta_name}:
            raise bad_request(f"the body must hold exactly the metadata {meta_name}")
        harbor.update_project(project["name"], req, None)
        return empty()
