"""Repositories of a project."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response

from k1s0_stack.harbor.api.artifacts import repo_name
from k1s0_stack.harbor.web import (
    ServerContext,
    caller,
    empty,
    json_response,
    page,
    router,
)


def register(bp: Blueprint, ctx: ServerContext) -> None:
    route = router(bp)
    harbor = ctx.harbor

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
        harbor.require(caller(), project_name, "repository", "list")
        harbor.project(project_name, by_name=True)
        shown, headers = page(harbor.repositories(project_name))
        return json_response([repository_json(r) for r in shown], headers=headers)

    @route("/projects/<project_name>/repositories/<repository_name>", "getRepository", ["GET"])
    def get_repository(project_name: str, repository_name: str) -> Response:
        harbor.require(caller(), project_name, "repository", "read")
        harbor.project(project_name, by_name=True)
        return json_response(
            repository_json(harbor.repository(project_name, repo_name(repository_name)))
        )

    @route(
        "/projects/<project_name>/repositories/<repository_name>", "deleteRepository", ["DELETE"]
    )
    def delete_repository(project_name: str, repository_name: str) -> Response:
        harbor.require(caller(), project_name, "repository", "delete")
        harbor.project(project_name, by_name=True)
        for artifact in harbor.delete_repository(project_name, repo_name(repository_name)):
            ctx.delete_manifest(artifact["repository"], artifact["digest"])
        return empty()
