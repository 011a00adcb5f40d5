"""Projects, their metadata and CVE allowlists."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from k1s0_stack.harbor.errors import bad_request, forbidden, not_found, unauthorized
from k1s0_stack.harbor.records import Project
from k1s0_stack.harbor.web import (
    API,
    ServerContext,
    allowlist_json,
    body,
    by_resource_name,
    caller,
    empty,
    json_response,
    page,
    router,
)


def register(bp: Blueprint, ctx: ServerContext) -> None:
    route = router(bp)
    harbor = ctx.harbor

    def project_json(project: Project) -> dict[str, Any]:
        # Harbor's swagger model omits false/zero fields (deleted, togglable, registry_id); a
        # robot has no role in the project: no current_user_role_id, role ids null.
        who = caller()
        admin = who is not None and who.admin
        shown: dict[str, Any] = {
            "project_id": project["project_id"],
            "owner_id": 1,
            "owner_name": "admin",
            "name": project["name"],
            "creation_time": project["creation_time"],
            "update_time": project["update_time"],
            "current_user_role_ids": [1] if admin else None,
            "repo_count": harbor.repo_count(project["name"]),
            "metadata": dict(project["metadata"]),
            "cve_allowlist": allowlist_json(project["cve_allowlist"]),
        }
        if admin:
            shown["current_user_role_id"] = 1
        return shown

    def checked(name_or_id: str, resource: str, action: str) -> Project:
        """RequireProjectAccess first (403 for a project that does not exist, unless admin),
        then the project (404)."""
        harbor.require(caller(), name_or_id, resource, action, by_name=by_resource_name())
        return harbor.project(name_or_id, by_resource_name())

    @route("/projects", "headProject", ["HEAD"])
    def head_project() -> Response:
        if caller() is None:
            raise unauthorized()
        name = request.args.get("project_name", "")
        if not name:
            raise bad_request("project_name is required")
        harbor.project(name, by_name=True)
        return empty()

    @route("/projects", "listProjects", ["GET"])
    def list_projects() -> Response:
        who = caller()
        projects = [
            p for p in harbor.projects() if harbor.allowed(who, p["name"], "project", "read")
        ]
        name = request.args.get("name")
        if name:
            projects = [p for p in projects if name in p["name"]]
        shown, headers = page(sorted(projects, key=lambda p: p["project_id"]))
        return json_response([project_json(p) for p in shown], headers=headers)

    @route("/projects", "createProject", ["POST"])
    def create_project() -> Response:
        who = caller()
        if who is None:
            raise unauthorized()
        if not who.admin:
            raise forbidden("Only system level robot can create project")
        req = body()
        name = str(req.get("project_name") or "")
        metadata = dict(req.get("metadata") or {})
        # handler/project.go: metadata.public from the old "public" field, else "false"; the
        # other keys only as given. The request's cve_allowlist is not used on create (the
        # controller creates an empty one).
        if not metadata.get("public"):
            public = req.get("public")
            metadata["public"] = str(public).lower() if isinstance(public, bool) else "false"
        metadata.pop("retention_id", None)
        project = harbor.create_project(name, metadata, None)
        by_name = request.headers.get("X-Resource-Name-In-Location") == "true"
        ref = project["name"] if by_name else str(project["project_id"])
        return empty(201, {"Location": f"{API}/projects/{ref}"})

    @route("/projects/<project_name_or_id>", "getProject", ["GET"])
    def get_project(project_name_or_id: str) -> Response:
        return json_response(project_json(checked(project_name_or_id, "project", "read")))

    @route("/projects/<project_name_or_id>", "updateProject", ["PUT"])
    def update_project(project_name_or_id: str) -> Response:
        project = checked(project_name_or_id, "project", "update")
        req = body()
        harbor.update_project(project["name"], req.get("metadata"), req.get("cve_allowlist"))
        return empty()

    @route("/projects/<project_name_or_id>", "deleteProject", ["DELETE"])
    def delete_project(project_name_or_id: str) -> Response:
        project = checked(project_name_or_id, "project", "delete")
        harbor.delete_project(project["name"])
        return empty()

    @route("/projects/<project_name_or_id>/metadatas/", "listProjectMetadatas", ["GET"])
    @route("/projects/<project_name_or_id>/metadatas", "listProjectMetadatas", ["GET"])
    def list_project_metadatas(project_name_or_id: str) -> Response:
        return json_response(checked(project_name_or_id, "metadata", "list")["metadata"])

    @route("/projects/<project_name_or_id>/metadatas/<meta_name>", "getProjectMetadata", ["GET"])
    def get_project_metadata(project_name_or_id: str, meta_name: str) -> Response:
        project = checked(project_name_or_id, "metadata", "read")
        if meta_name not in project["metadata"]:
            raise not_found(f"metadata {meta_name} of project {project['name']} not found")
        return json_response({meta_name: project["metadata"][meta_name]})

    @route("/projects/<project_name_or_id>/metadatas/<meta_name>", "updateProjectMetadata", ["PUT"])
    def update_project_metadata(project_name_or_id: str, meta_name: str) -> Response:
        project = checked(project_name_or_id, "metadata", "update")
        req = body()
        if set(req) != {meta_name}:
            raise bad_request(f"the body must hold exactly the metadata {meta_name}")
        harbor.update_project(project["name"], req, None)
        return empty()
