"""Artifacts, their scans, vulnerability reports and accessories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from flask import Blueprint, Response, request

from k1s0_stack.harbor.errors import HarborError
from k1s0_stack.harbor.records import Artifact
from k1s0_stack.harbor.service import Harbor, accepted_mimes, scan_overview
from k1s0_stack.harbor.web import (
    API,
    ServerContext,
    body,
    caller,
    empty,
    flag,
    json_response,
    page,
    router,
)
from k1s0_stack.trivy import REPORT_MIME

ARTIFACTS_RULE = "/projects/<project_name>/repositories/<repository_name>/artifacts"
ARTIFACT_RULE = ARTIFACTS_RULE + "/<reference>"


def repo_name(encoded: str) -> str:
    """Harbor's clients encode a slash in a repository name twice; the server decoded once."""
    return unquote(encoded)


def artifact_for(
    harbor: Harbor,
    project_name: str,
    repository_name: str,
    reference: str,
    resource: str,
    action: str,
) -> Artifact:
    """The artifact a view acts on, after the caller's permission on the project is checked."""
    harbor.project(project_name, by_name=True)
    harbor.require(caller(), project_name, resource, action)
    return harbor.artifact(project_name, repo_name(repository_name), reference)


def tags_json(artifact: Artifact) -> list[dict[str, Any]]:
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


def register(bp: Blueprint, ctx: ServerContext) -> None:
    route = router(bp)
    harbor = ctx.harbor

    def artifact_json(artifact: Artifact, detail: bool) -> dict[str, Any]:
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
    ) -> Artifact:
        return artifact_for(harbor, project_name, repository_name, reference, resource, action)

    @route(ARTIFACTS_RULE, "listArtifacts", ["GET"])
    def list_artifacts(project_name: str, repository_name: str) -> Response:
        harbor.project(project_name, by_name=True)
        harbor.require(caller(), project_name, "artifact", "list")
        artifacts = harbor.artifacts(project_name, repo_name(repository_name))
        shown, headers = page(artifacts)
        return json_response([artifact_json(a, False) for a in shown], headers=headers)

    @route(ARTIFACT_RULE, "getArtifact", ["GET"])
    def get_artifact(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "artifact", "read")
        return json_response(artifact_json(artifact, True))

    @route(ARTIFACT_RULE, "deleteArtifact", ["DELETE"])
    def delete_artifact(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "artifact", "delete")
        for gone in harbor.delete_artifact(int(artifact["id"])):
            ctx.delete_manifest(gone["repository"], gone["digest"])
        return empty()

    @route(ARTIFACT_RULE + "/scan", "scanArtifact", ["POST"])
    def scan_artifact(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "scan", "create")
        scan_type = body().get("scan_type", "vulnerability")
        if scan_type != "vulnerability":
            raise HarborError(
                422, "UNPROCESSABLE_ENTITY", f"scan type {scan_type} is not supported"
            )
        ctx.scanner.request(artifact)
        return empty(202)

    @route(ARTIFACT_RULE + "/additions/vulnerabilities", "getVulnerabilitiesAddition", ["GET"])
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

    @route(ARTIFACT_RULE + "/accessories", "listAccessories", ["GET"])
    def list_accessories(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "accessory", "list")
        found = harbor.accessories(artifact["repository"], artifact["digest"])
        shown, headers = page(found)
        return json_response([accessory_json(a, artifact) for a in shown], headers=headers)
