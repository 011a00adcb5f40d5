"""Tags of an artifact (create, list, delete)."""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

from k1s0_stack.harbor.api.artifacts import ARTIFACT_RULE, artifact_for, tags_json
from k1s0_stack.harbor.errors import bad_request
from k1s0_stack.harbor.records import Artifact
from k1s0_stack.harbor.web import ServerContext, body, empty, json_response, page, router

TAG_RE = re.compile(r"[\w][\w.-]{0,127}")  # distribution's tag grammar, as Harbor checks it


def register(bp: Blueprint, ctx: ServerContext) -> None:
    route = router(bp)
    harbor = ctx.harbor

    def find_artifact(
        project_name: str, repository_name: str, reference: str, resource: str, action: str
    ) -> Artifact:
        return artifact_for(harbor, project_name, repository_name, reference, resource, action)

    @route(ARTIFACT_RULE + "/tags", "createTag", ["POST"])
    def create_tag(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "tag", "create")
        name = str(body().get("name") or "")
        if not TAG_RE.fullmatch(name):
            raise bad_request(f"bad request: invalid tag name: {name}")
        harbor.create_tag(int(artifact["id"]), name)
        location = f"{request.path}/{name}"
        return empty(201, {"Location": location})

    @route(ARTIFACT_RULE + "/tags", "listTags", ["GET"])
    def list_tags(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "tag", "list")
        shown, headers = page(tags_json(artifact))
        return json_response(shown, headers=headers)

    @route(ARTIFACT_RULE + "/tags/<tag_name>", "deleteTag", ["DELETE"])
    def delete_tag(
        project_name: str, repository_name: str, reference: str, tag_name: str
    ) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "tag", "delete")
        harbor.delete_tag(int(artifact["id"]), tag_name)
        return empty()
