"""Artifacts, their scans, vulnerability reports and accessories."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from flask import Blueprint, Response, request

from k1s0_stack.harbor.errors import HarborError, not_found
from k1s0_stack.harbor.records import Artifact
from k1s0_stack.harbor.reports import scan_overview, vulnerabilities
from k1s0_stack.harbor.sbom import sbom_overview
from k1s0_stack.harbor.service import Harbor
from k1s0_stack.harbor.web import (
    API,
    ServerContext,
    body,
    by_resource_name,
    caller,
    empty,
    flag,
    json_response,
    page,
    router,
)

# The digests of Harbor's built-in icons for an image and a cosign signature (captures).
IMAGE_ICON = "sha256:0048162a053eef4d4ce3fe7518615bef084403614f8bca43b40ae2e762e11e06"
ICONS = {
    "signature.cosign": "sha256:20401d5b3a0f6dbc607c8d732eb08471af4ae6b19811a4efce8c6a724aed2882"
}
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
    harbor.require(caller(), project_name, resource, action)
    harbor.project(project_name, by_name=True)
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

    def artifact_json(artifact: Artifact) -> dict[str, Any]:
        """Harbor 2.10-2.15's artifact: `accessories`, `labels`, `references` and (without tags)
        `tags` are null when empty; the vulnerability and SBOM links appear once the artifact
        has a scan report (the SBOM link with Harbor's empty digest); `scan_overview` only with
        a report and `with_scan_overview=true`."""
        project, _, name = artifact["repository"].partition("/")
        base = f"{API}/projects/{project}/repositories/{quote(quote(name, safe=''), safe='')}"
        links: dict[str, Any] = {
            "build_history": {
                "absolute": False,
                "href": f"{base}/artifacts/{artifact['digest']}/additions/build_history",
            }
        }
        if artifact.get("scan"):
            links["sboms"] = {"absolute": False, "href": f"{base}/artifacts//additions/sbom"}
            links["vulnerabilities"] = {
                "absolute": False,
                "href": f"{base}/artifacts/{artifact['digest']}/additions/vulnerabilities",
            }
        references = [
            {k: v for k, v in ref.items() if v is not None} for ref in artifact["references"]
        ]
        shown: dict[str, Any] = {
            "id": artifact["id"],
            "type": "IMAGE",
            "media_type": artifact["media_type"],
            "manifest_media_type": artifact["manifest_media_type"],
            "artifact_type": artifact.get("artifact_type") or artifact["media_type"],
            "project_id": artifact["project_id"],
            "repository_id": artifact["repository_id"],
            "repository_name": artifact["repository"],
            "digest": artifact["digest"],
            "size": artifact["size"],
            "icon": ICONS.get(str(artifact.get("accessory_type")), IMAGE_ICON),
            "push_time": artifact["push_time"],
            "pull_time": artifact["pull_time"],
            "extra_attrs": artifact["extra_attrs"],
            "addition_links": links,
            "labels": None,
            "references": references or None,
            "accessories": None,
            "tags": (tags_json(artifact) or None) if flag("with_tag", True) else None,
        }
        if artifact["annotations"]:
            shown["annotations"] = artifact["annotations"]
        if flag("with_scan_overview", False):
            overview = scan_overview(
                artifact.get("scan"),
                request.headers.get("X-Accept-Vulnerabilities"),
                ctx.mimic,
            )
            if overview is not None:
                shown["scan_overview"] = overview
        if flag("with_sbom_overview", False) and (found_sbom := sbom_overview(dict(artifact))):
            shown["sbom_overview"] = found_sbom
        if flag("with_accessory", False):
            found = harbor.accessories(artifact["repository"], artifact["digest"])
            shown["accessories"] = [accessory_json(a, artifact) for a in found] or None
        return shown

    def accessory_json(accessory: Artifact, subject: Artifact) -> dict[str, Any]:
        return {
            "id": accessory["id"],
            "artifact_id": accessory["id"],
            "subject_artifact_id": subject["id"],
            "subject_artifact_digest": subject["digest"],
            "subject_artifact_repo": subject["repository"],
            "size": accessory["size"],
            "digest": accessory["digest"],
            "type": accessory["accessory_type"],
            "icon": ICONS.get(str(accessory["accessory_type"]), IMAGE_ICON),
            "creation_time": accessory["push_time"],
        }

    def find_artifact(
        project_name: str, repository_name: str, reference: str, resource: str, action: str
    ) -> Artifact:
        return artifact_for(harbor, project_name, repository_name, reference, resource, action)

    @route(ARTIFACTS_RULE, "listArtifacts", ["GET"])
    def list_artifacts(project_name: str, repository_name: str) -> Response:
        harbor.require(caller(), project_name, "artifact", "list")
        harbor.project(project_name, by_name=True)
        artifacts = harbor.artifacts(project_name, repo_name(repository_name))
        shown, headers = page(artifacts)
        return json_response([artifact_json(a) for a in shown], headers=headers)

    @route("/projects/<project_name_or_id>/artifacts", "listArtifactsOfProject", ["GET"])
    def list_artifacts_of_project(project_name_or_id: str) -> Response:
        # Harbor (handler/project.go): every repository's artifacts, accessories left out,
        # newest push first; RequireProjectAccess(artifact:list) before the project lookup.
        harbor.require(caller(), project_name_or_id, "artifact", "list", by_name=by_resource_name())
        name = harbor.project(project_name_or_id, by_resource_name())["name"]
        artifacts = [
            artifact
            for repo in harbor.repositories(name)
            for artifact in harbor.artifacts(name, repo["name"].partition("/")[2])
        ]
        artifacts.sort(key=lambda a: (a["push_time"], a["id"]), reverse=True)
        shown, headers = page(artifacts)
        return json_response([artifact_json(a) for a in shown], headers=headers)

    @route(ARTIFACT_RULE, "getArtifact", ["GET"])
    def get_artifact(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "artifact", "read")
        return json_response(artifact_json(artifact))

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
        if scan_type == "sbom":
            ctx.sbom.request(dict(artifact))
            return empty(202)
        if scan_type != "vulnerability":
            raise HarborError(
                422, "UNPROCESSABLE_ENTITY", f"scan type {scan_type} is not supported"
            )
        ctx.scanner.request(artifact)
        return empty(202)

    @route(ARTIFACT_RULE + "/scan/stop", "stopScanArtifact", ["POST"])
    def stop_scan(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "scan", "stop")
        ctx.scanner.stop_scan(artifact)
        return empty(202)

    @route(ARTIFACT_RULE + "/scan/<report_id>/log", "getReportLog", ["GET"])
    def get_report_log(
        project_name: str, repository_name: str, reference: str, report_id: str
    ) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "scan", "read")
        scan = artifact.get("scan") or {}
        if scan.get("report_id") != report_id:
            raise not_found(f"report {report_id} not found")
        return Response(scan.get("log") or "", mimetype="text/plain")

    @route(ARTIFACT_RULE + "/additions/vulnerabilities", "getVulnerabilitiesAddition", ["GET"])
    def get_vulnerabilities(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(
            project_name, repository_name, reference, "artifact-addition", "read"
        )
        accept = request.headers.get("X-Accept-Vulnerabilities")
        return json_response(vulnerabilities(artifact.get("scan"), accept, ctx.mimic))

    @route(ARTIFACT_RULE + "/additions/sbom", "getAddition", ["GET"])
    def get_sbom_addition(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(
            project_name, repository_name, reference, "artifact-addition", "read"
        )
        document = ctx.sbom.document(dict(artifact))
        if document is None:
            raise not_found(f"addition sbom of {reference} not found")
        return json_response(document)

    @route(ARTIFACT_RULE + "/accessories", "listAccessories", ["GET"])
    def list_accessories(project_name: str, repository_name: str, reference: str) -> Response:
        artifact = find_artifact(project_name, repository_name, reference, "accessory", "list")
        found = harbor.accessories(artifact["repository"], artifact["digest"])
        shown, headers = page(found)
        return json_response([accessory_json(a, artifact) for a in shown], headers=headers)
