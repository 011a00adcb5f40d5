"""Harbor's resources and rules (projects, robots, permissions, repositories, artifacts, tags, scan
overviews, retention), independent of HTTP. Errors carry Harbor's status, code and message."""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from k1s0_stack.harbor.store import ZERO_TIME, Store, hash_secret, now, secret_matches
from k1s0_stack.trivy import REPORT_MIME, SCANNER, SEVERITIES, summary

NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ROBOT_PREFIX = "robot$"
COSIGN_TAG_RE = re.compile(r"^sha256-([0-9a-f]{64})\.sig$")
DEFAULT_ACCEPT = (
    "application/vnd.security.vulnerability.report; version=1.1, "
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
)
BUILDKIT_CACHE_CONFIG = "application/vnd.buildkit.cacheconfig.v0"
SCANNABLE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    }
)
# Short names for the permissions a CI robot needs, as Harbor (resource, action) pairs.
PERMISSION_SETS: dict[str, tuple[tuple[str, str], ...]] = {
    "pull": (("repository", "pull"),),
    "push": (("repository", "push"),),
    "scan": (("scan", "create"), ("scan", "read")),
    "tag-create": (("tag", "create"),),
    "tag-delete": (("tag", "delete"),),
    "tag-list": (("tag", "list"),),
    "artifact-read": (("artifact", "read"), ("artifact-addition", "read")),
    "artifact-list": (("artifact", "list"),),
    "artifact-delete": (("artifact", "delete"),),
    "accessory-list": (("accessory", "list"),),
    "repository-read": (("repository", "read"), ("repository", "list")),
    "repository-delete": (("repository", "delete"),),
    "retention": tuple(
        ("tag-retention", a) for a in ("create", "read", "update", "list", "operate")
    ),
}
CI_PERMISSIONS = (
    "push",
    "pull",
    "scan",
    "tag-create",
    "tag-delete",
    "tag-list",
    "artifact-read",
    "artifact-list",
    "accessory-list",
    "repository-read",
)


class HarborError(Exception):
    """An API error as Harbor reports it: {"errors":[{"code": ..., "message": ...}]}."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(message: str) -> HarborError:
    return HarborError(404, "NOT_FOUND", message)


def bad_request(message: str) -> HarborError:
    return HarborError(400, "BAD_REQUEST", message)


@dataclass(frozen=True)
class Principal:
    name: str
    admin: bool
    robot_id: int | None = None


@dataclass(frozen=True)
class Robot:
    id: int
    name: str  # robot$<project>+<name>
    secret: str


def permission_entries(permissions: Iterable[str]) -> list[dict[str, str]]:
    """["push", "scan", "tag:create", ...] -> Harbor's access list."""
    access: list[dict[str, str]] = []
    for permission in permissions:
        if ":" in permission:
            resource, action = permission.split(":", 1)
            pairs: Sequence[tuple[str, str]] = ((resource, action),)
        elif permission in PERMISSION_SETS:
            pairs = PERMISSION_SETS[permission]
        else:
            raise ValueError(f"unknown permission {permission!r}")
        for resource, action in pairs:
            entry = {"resource": resource, "action": action, "effect": "allow"}
            if entry not in access:
                access.append(entry)
    return access


class Harbor:
    """The state and rules; every method is safe to call from any thread."""

    def __init__(self, store: Store, admin_password: str, salt: str) -> None:
        self.store = store
        self._admin_password = admin_password
        self._salt = salt

    # -- identities -------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> Principal | None:
        if username == "admin":
            return Principal("admin", True) if password == self._admin_password else None
        with self.store.lock:
            for robot in self.store.data["robots"].values():
                if robot["name"] != username or robot["disable"]:
                    continue
                expired = robot["expires_at"] != -1 and robot["expires_at"] < _epoch()
                if not expired and secret_matches(password, self._salt, robot["secret_hash"]):
                    return Principal(username, False, int(robot["id"]))
        return None

    def allowed(self, principal: Principal, project: str, resource: str, action: str) -> bool:
        if principal.admin:
            return True
        with self.store.lock:
            robot = self.store.data["robots"].get(str(principal.robot_id))
            if robot is None:
                return False
            for permission in robot["permissions"]:
                if permission["namespace"] not in (project, "*"):
                    continue
                for access in permission["access"]:
                    if access["resource"] == resource and access["action"] in (action, "*"):
                        return True
        return False

    def require(
        self, principal: Principal | None, project: str, resource: str, action: str
    ) -> None:
        if principal is None:
            raise HarborError(401, "UNAUTHORIZED", "unauthorized")
        if not self.allowed(principal, project, resource, action):
            raise HarborError(403, "FORBIDDEN", "forbidden")

    @staticmethod
    def require_admin(principal: Principal | None) -> None:
        if principal is None:
            raise HarborError(401, "UNAUTHORIZED", "unauthorized")
        if not principal.admin:
            raise HarborError(403, "FORBIDDEN", "forbidden")

    # -- projects ---------------------------------------------------------------------------

    def create_project(
        self,
        name: str,
        metadata: Mapping[str, str] | None = None,
        cve_allowlist: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        if not name or len(name) > 255 or not NAME_RE.match(name):
            raise bad_request(
                f"project name is not in lower case or contains illegal characters: {name}"
            )
        with self.store.transaction() as data:
            if name in data["projects"]:
                raise HarborError(409, "CONFLICT", f"The project named {name} already exists")
            project_id = self.store.new_id()
            moment = now()
            meta = {"public": "false"}
            meta.update({k: str(v) for k, v in (metadata or {}).items() if v is not None})
            project = {
                "project_id": project_id,
                "name": name,
                "creation_time": moment,
                "update_time": moment,
                "metadata": meta,
                "cve_allowlist": self._allowlist(project_id, cve_allowlist, None),
            }
            data["projects"][name] = project
            return project

    def _allowlist(
        self, project_id: int, given: Mapping[str, Any] | None, old: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        moment = now()
        allowlist: dict[str, Any] = {
            "id": (old or {}).get("id") or self.store.new_id(),
            "project_id": project_id,
            "items": [{"cve_id": i["cve_id"]} for i in (given or {}).get("items") or []],
            "creation_time": (old or {}).get("creation_time", moment),
            "update_time": moment,
        }
        if (given or {}).get("expires_at") is not None:
            allowlist["expires_at"] = int((given or {})["expires_at"])
        return allowlist

    def project(self, name_or_id: str, by_name: bool = False) -> dict[str, Any]:
        with self.store.lock:
            projects = self.store.data["projects"]
            if name_or_id in projects:
                return dict(projects[name_or_id])
            if not by_name and name_or_id.isdigit():
                for project in projects.values():
                    if project["project_id"] == int(name_or_id):
                        return dict(project)
        raise not_found(f"project {name_or_id} not found")

    def update_project(
        self, name: str, metadata: Mapping[str, Any] | None, cve_allowlist: Mapping[str, Any] | None
    ) -> None:
        with self.store.transaction() as data:
            project = data["projects"].get(name)
            if project is None:
                raise not_found(f"project {name} not found")
            for key, value in (metadata or {}).items():
                if value is not None:
                    project["metadata"][key] = str(value)
            if cve_allowlist is not None:
                project["cve_allowlist"] = self._allowlist(
                    project["project_id"], cve_allowlist, project["cve_allowlist"]
                )
            project["update_time"] = now()

    def delete_project(self, name: str) -> None:
        with self.store.transaction() as data:
            if name not in data["projects"]:
                raise not_found(f"project {name} not found")
            if any(r["project"] == name for r in data["repositories"].values()):
                raise HarborError(
                    412,
                    "PRECONDITION",
                    f"the project {name} contains repositories, can not be deleted",
                )
            del data["projects"][name]

    def projects(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [dict(p) for p in self.store.data["projects"].values()]

    def repo_count(self, project: str) -> int:
        with self.store.lock:
            return sum(
                1 for r in self.store.data["repositories"].values() if r["project"] == project
            )

    def system_allowlist(self) -> dict[str, Any]:
        with self.store.lock:
            return dict(self.store.data["system_allowlist"])

    def set_system_allowlist(self, given: Mapping[str, Any]) -> None:
        with self.store.transaction() as data:
            data["system_allowlist"] = self._allowlist(0, given, data["system_allowlist"])

    # -- robots -----------------------------------------------------------------------------

    def create_robot(
        self,
        name: str,
        level: str,
        permissions: Sequence[Mapping[str, Any]],
        duration: int = -1,
        description: str = "",
        secret: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        if level != "project":
            raise bad_request("only project-level robot accounts are supported here")
        if not NAME_RE.match(name):
            raise bad_request(
                f"robot name is not in lower case or contains illegal characters: {name}"
            )
        if len(permissions) != 1 or permissions[0].get("kind") != "project":
            raise bad_request("a project level robot must have exactly one project permission")
        project = str(permissions[0].get("namespace", ""))
        self.project(project, by_name=True)
        full_name = f"{ROBOT_PREFIX}{project}+{name}"
        secret = secret or secrets.token_urlsafe(24)
        with self.store.transaction() as data:
            if any(r["name"] == full_name for r in data["robots"].values()):
                raise HarborError(409, "CONFLICT", f"robot account {full_name} already exists")
            robot_id = self.store.new_id()
            moment = now()
            expires = -1 if duration == -1 else _epoch() + duration * 86400
            robot = {
                "id": robot_id,
                "name": full_name,
                "description": description,
                "level": "project",
                "project": project,
                "duration": duration,
                "expires_at": expires,
                "disable": False,
                "editable": True,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": project,
                        "access": [
                            {
                                "resource": a["resource"],
                                "action": a["action"],
                                "effect": a.get("effect", "allow"),
                            }
                            for a in permissions[0].get("access") or []
                        ],
                    }
                ],
                "secret_hash": hash_secret(secret, self._salt),
                "creator_type": "local",
                "creator_ref": 1,
                "creation_time": moment,
                "update_time": moment,
            }
            data["robots"][str(robot_id)] = robot
            return dict(robot), secret

    def robots(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [dict(r) for r in self.store.data["robots"].values()]

    def robot(self, robot_id: int) -> dict[str, Any]:
        with self.store.lock:
            robot = self.store.data["robots"].get(str(robot_id))
        if robot is None:
            raise not_found(f"robot {robot_id} not found")
        return dict(robot)

    def delete_robot(self, robot_id: int) -> None:
        with self.store.transaction() as data:
            if data["robots"].pop(str(robot_id), None) is None:
                raise not_found(f"robot {robot_id} not found")

    # -- repositories -----------------------------------------------------------------------

    def repository(self, project: str, name: str) -> dict[str, Any]:
        self.project(project, by_name=True)
        with self.store.lock:
            repo = self.store.data["repositories"].get(f"{project}/{name}")
        if repo is None:
            raise not_found(f"repository {project}/{name} not found")
        return dict(repo)

    def repositories(self, project: str) -> list[dict[str, Any]]:
        self.project(project, by_name=True)
        with self.store.lock:
            repos = [
                dict(r) for r in self.store.data["repositories"].values() if r["project"] == project
            ]
        return sorted(repos, key=lambda r: r["update_time"], reverse=True)

    def ensure_repository(self, full_name: str) -> dict[str, Any]:
        project_name = full_name.split("/", 1)[0]
        project = self.project(project_name, by_name=True)
        with self.store.transaction() as data:
            repo = data["repositories"].get(full_name)
            if repo is None:
                moment = now()
                repo = {
                    "id": self.store.new_id(),
                    "project_id": project["project_id"],
                    "project": project_name,
                    "name": full_name,
                    "pull_count": 0,
                    "creation_time": moment,
                    "update_time": moment,
                }
                data["repositories"][full_name] = repo
            return dict(repo)

    def artifact_count(self, full_name: str) -> int:
        with self.store.lock:
            return sum(
                1
                for a in self.store.data["artifacts"].values()
                if a["repository"] == full_name and not a.get("accessory_of")
            )

    def delete_repository(self, project: str, name: str) -> list[dict[str, Any]]:
        repo = self.repository(project, name)
        with self.store.transaction() as data:
            gone = [a for a in data["artifacts"].values() if a["repository"] == repo["name"]]
            for artifact in gone:
                del data["artifacts"][str(artifact["id"])]
            del data["repositories"][repo["name"]]
            return gone

    # -- artifacts --------------------------------------------------------------------------

    def record_push(
        self,
        full_name: str,
        reference: str,
        digest: str,
        manifest_media_type: str,
        manifest: Mapping[str, Any],
        size: int,
        extra_attrs: Mapping[str, Any] | None,
        manifest_size: int = 0,
    ) -> tuple[dict[str, Any], bool]:
        """Records a manifest push; returns the artifact and whether it is new."""
        repo = self.ensure_repository(full_name)
        moment = now()
        tag = None if reference.startswith("sha256:") else reference
        with self.store.transaction() as data:
            artifacts = data["artifacts"]
            artifact = next(
                (
                    a
                    for a in artifacts.values()
                    if a["repository"] == full_name and a["digest"] == digest
                ),
                None,
            )
            created = artifact is None
            if artifact is None:
                config = manifest.get("config") or {}
                artifact = {
                    "id": self.store.new_id(),
                    "project_id": repo["project_id"],
                    "repository_id": repo["id"],
                    "repository": full_name,
                    "digest": digest,
                    "manifest_media_type": manifest_media_type,
                    "media_type": config.get("mediaType") or manifest_media_type,
                    "size": size,
                    "push_time": moment,
                    "pull_time": ZERO_TIME,
                    "extra_attrs": dict(extra_attrs or {}),
                    "annotations": dict(manifest.get("annotations") or {}),
                    "references": [
                        {"child_digest": m["digest"], "platform": m.get("platform")}
                        for m in manifest.get("manifests") or []
                    ],
                    "tags": [],
                    "scan": None,
                    "accessory_of": None,
                    "accessory_type": None,
                }
                if manifest.get("artifactType"):
                    artifact["artifact_type"] = manifest["artifactType"]
                # What the OCI referrers API lists for it (OCI distribution spec 1.1).
                artifact["descriptor"] = {
                    "mediaType": manifest_media_type,
                    "digest": digest,
                    "size": manifest_size,
                    "artifactType": manifest.get("artifactType") or config.get("mediaType"),
                    "annotations": dict(manifest.get("annotations") or {}),
                }
                subject, kind = _accessory_subject(tag, manifest)
                if subject:
                    artifact["accessory_of"] = subject
                    artifact["accessory_type"] = kind
                artifacts[str(artifact["id"])] = artifact
            else:
                artifact["push_time"] = moment
            if tag:
                for other in artifacts.values():
                    if other["repository"] == full_name:
                        other["tags"] = [t for t in other["tags"] if t["name"] != tag]
                artifact["tags"].append(
                    {
                        "id": self.store.new_id(),
                        "name": tag,
                        "push_time": moment,
                        "pull_time": ZERO_TIME,
                    }
                )
            data["repositories"][full_name]["update_time"] = moment
            return dict(artifact), created

    def resolve(self, full_name: str, reference: str) -> dict[str, Any] | None:
        with self.store.lock:
            for artifact in self.store.data["artifacts"].values():
                if artifact["repository"] != full_name:
                    continue
                if artifact["digest"] == reference or any(
                    t["name"] == reference for t in artifact["tags"]
                ):
                    found: dict[str, Any] = artifact
                    return found
        return None

    def artifact(self, project: str, name: str, reference: str) -> dict[str, Any]:
        self.project(project, by_name=True)
        full_name = f"{project}/{name}"
        with self.store.lock:
            found = self.resolve(full_name, reference)
            if found is None:
                separator = "@" if reference.startswith("sha256:") else ":"
                raise not_found(f"artifact {full_name}{separator}{reference} not found")
            # A snapshot: scans and pushes change the stored record from other threads.
            return copy.deepcopy(found)

    def artifacts(self, project: str, name: str) -> list[dict[str, Any]]:
        self.repository(project, name)
        with self.store.lock:
            found = [
                copy.deepcopy(a)
                for a in self.store.data["artifacts"].values()
                if a["repository"] == f"{project}/{name}" and not a.get("accessory_of")
            ]
        return sorted(found, key=lambda a: a["push_time"], reverse=True)

    def tag_names(self, full_name: str) -> list[str]:
        """Every tag in a repository, accessories' included, as Harbor's tags/list gives them."""
        with self.store.lock:
            return sorted(
                t["name"]
                for a in self.store.data["artifacts"].values()
                if a["repository"] == full_name
                for t in a["tags"]
            )

    def accessories(self, full_name: str, digest: str) -> list[dict[str, Any]]:
        with self.store.lock:
            return [
                copy.deepcopy(a)
                for a in self.store.data["artifacts"].values()
                if a["repository"] == full_name and a.get("accessory_of") == digest
            ]

    def delete_artifact(self, artifact_id: int) -> list[dict[str, Any]]:
        """Removes an artifact and its accessories; returns what was removed."""
        with self.store.transaction() as data:
            artifact = data["artifacts"].pop(str(artifact_id), None)
            if artifact is None:
                return []
            gone = [artifact]
            for other in list(data["artifacts"].values()):
                if (
                    other["repository"] == artifact["repository"]
                    and other.get("accessory_of") == artifact["digest"]
                ):
                    gone.append(data["artifacts"].pop(str(other["id"])))
            return gone

    def forget_manifest(self, full_name: str, digest: str) -> None:
        artifact = self.resolve(full_name, digest)
        if artifact is not None:
            self.delete_artifact(int(artifact["id"]))

    def create_tag(self, artifact_id: int, tag: str) -> dict[str, Any]:
        with self.store.transaction() as data:
            artifact = data["artifacts"][str(artifact_id)]
            for other in data["artifacts"].values():
                if other["repository"] == artifact["repository"] and any(
                    t["name"] == tag for t in other["tags"]
                ):
                    raise HarborError(
                        409,
                        "CONFLICT",
                        f"the tag {tag} already exists under the repository "
                        + artifact["repository"],
                    )
            entry = {
                "id": self.store.new_id(),
                "name": tag,
                "push_time": now(),
                "pull_time": ZERO_TIME,
            }
            artifact["tags"].append(entry)
            return dict(entry)

    def delete_tag(self, artifact_id: int, tag: str) -> None:
        with self.store.transaction() as data:
            artifact = data["artifacts"][str(artifact_id)]
            kept = [t for t in artifact["tags"] if t["name"] != tag]
            if len(kept) == len(artifact["tags"]):
                raise not_found(f"tag {tag} not found on the artifact")
            artifact["tags"] = kept

    def mark_pulled(self, full_name: str, reference: str) -> None:
        with self.store.transaction() as data:
            artifact = self.resolve(full_name, reference)
            if artifact is None:
                return
            moment = now()
            artifact["pull_time"] = moment
            for tag in artifact["tags"]:
                if tag["name"] == reference:
                    tag["pull_time"] = moment
            repo = data["repositories"].get(full_name)
            if repo:
                repo["pull_count"] += 1

    def effective_allowlist(self, project: Mapping[str, Any]) -> set[str]:
        """The CVE ids exempted in `project`: the system's or its own, unless expired."""
        reuse = project["metadata"].get("reuse_sys_cve_allowlist", "true") == "true"
        allowlist = self.system_allowlist() if reuse else project["cve_allowlist"]
        expires = allowlist.get("expires_at")
        if expires is not None and expires != 0 and expires < _epoch():
            return set()
        return {item["cve_id"] for item in allowlist.get("items") or []}

    def pull_refusal(self, project_name: str, artifact: Mapping[str, Any]) -> str | None:
        """Harbor's "prevent vulnerable images from running" check on a manifest GET: the
        refusal message, or None when the pull may go ahead."""
        project = self.project(project_name, by_name=True)
        if project["metadata"].get("prevent_vul") != "true" or not scannable(artifact):
            return None
        threshold = project["metadata"].get("severity", "low").capitalize()
        policy = (
            f'configured policy in \'Prevent images with vulnerability severity of "{threshold}" '
            "or higher from running.' To continue with pull, please contact your project "
            "administrator"
        )
        scan = artifact.get("scan") or {}
        if not scan or scan.get("status") == "Queued":
            return (
                "current image without vulnerability scanning cannot be pulled due to "
                f"{policy} for help."
            )
        if scan["status"] != "Success":
            return (
                f'current image with "{scan["status"]}" status of vulnerability scanning cannot be '
                f"pulled due to {policy} for help."
            )
        exempt = self.effective_allowlist(project)
        order = list(SEVERITIES)
        blocking = [
            v
            for v in scan["report"]["vulnerabilities"]
            if v["id"] not in exempt and order.index(v["severity"]) >= order.index(threshold)
        ]
        if not blocking:
            return None
        thing = "vulnerabilities" if len(blocking) > 1 else "vulnerability"
        return (
            f"current image with {len(blocking)} {thing} cannot be pulled due to {policy} to "
            "exempt matched vulnerabilities through configuring the CVE allowlist."
        )

    # -- scans ------------------------------------------------------------------------------

    def update_scan(self, artifact_id: int, **fields: Any) -> dict[str, Any] | None:
        with self.store.transaction() as data:
            artifact = data["artifacts"].get(str(artifact_id))
            if artifact is None:
                return None
            scan = artifact.get("scan") or {}
            scan.update(fields)
            artifact["scan"] = scan
            return dict(artifact)


def _accessory_subject(
    tag: str | None, manifest: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    subject = (manifest.get("subject") or {}).get("digest")
    layers = manifest.get("layers") or []
    cosign = str(manifest.get("artifactType", "")).startswith(
        "application/vnd.dev.sigstore.bundle"
    ) or any(
        str(layer.get("mediaType", "")).startswith("application/vnd.dev.cosign") for layer in layers
    )
    if subject:
        return subject, "signature.cosign" if cosign else "subject.accessory"
    match = COSIGN_TAG_RE.match(tag or "")
    if match:
        return f"sha256:{match.group(1)}", "signature.cosign"
    return None, None


def accepted_mimes(header: str | None) -> list[str]:
    return [part.strip() for part in (header or DEFAULT_ACCEPT).split(",") if part.strip()]


def scan_overview(scan: Mapping[str, Any] | None, accept: str | None) -> dict[str, Any] | None:
    """Harbor's scan_overview (omitempty fields), or None while the scan is only queued."""
    if (
        not scan
        or scan.get("status") in (None, "Queued")
        or REPORT_MIME not in accepted_mimes(accept)
    ):
        return None
    overview: dict[str, Any] = {
        "report_id": scan["report_id"],
        "scan_status": scan["status"],
        "start_time": scan["start_time"],
    }
    if scan.get("end_time"):
        overview["end_time"] = scan["end_time"]
    if scan.get("complete_percent"):
        overview["complete_percent"] = scan["complete_percent"]
    if scan.get("duration"):
        overview["duration"] = scan["duration"]
    if scan["status"] == "Success" and scan.get("report") is not None:
        overview["severity"] = scan["report"]["severity"]
        overview["summary"] = summary(scan["report"])
        overview["scanner"] = dict(SCANNER)
    return {REPORT_MIME: overview}


def scannable(artifact: Mapping[str, Any]) -> bool:
    # Harbor types an artifact by its config: a BuildKit cache (config
    # application/vnd.buildkit.cacheconfig.v0) is UNKNOWN, and Harbor does not scan it.
    return (
        not artifact.get("accessory_of")
        and artifact["manifest_media_type"] in SCANNABLE_MEDIA_TYPES
        and artifact.get("media_type") != BUILDKIT_CACHE_CONFIG
    )


# -- retention ----------------------------------------------------------------------------------


def retained(
    artifacts: Sequence[Mapping[str, Any]], rules: Sequence[Mapping[str, Any]], project: str
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Harbor's tag retention ("or" of enabled "retain" rules): (kept, deleted) per candidate
    artifact of the repositories the rules' scope selectors match."""
    keep_ids: set[int] = set()
    in_scope: dict[int, Mapping[str, Any]] = {}
    for rule in rules:
        if rule.get("disabled"):
            continue
        repos = [a for a in artifacts if _repo_selected(a["repository"], project, rule)]
        for artifact in repos:
            in_scope[int(artifact["id"])] = artifact
        by_repo: dict[str, list[Mapping[str, Any]]] = {}
        for artifact in repos:
            if _tags_selected(artifact, rule):
                by_repo.setdefault(artifact["repository"], []).append(artifact)
        for candidates in by_repo.values():
            keep_ids.update(int(a["id"]) for a in _template(rule, candidates))
    kept = [a for i, a in in_scope.items() if i in keep_ids]
    deleted = [a for i, a in in_scope.items() if i not in keep_ids]
    return kept, deleted


def _repo_selected(full_name: str, project: str, rule: Mapping[str, Any]) -> bool:
    name = full_name[len(project) + 1 :]
    selectors = (rule.get("scope_selectors") or {}).get("repository") or []
    for selector in selectors:
        matched = _doublestar(name, selector.get("pattern", "**"))
        if selector.get("decoration") == "repoExcludes":
            matched = not matched
        if not matched:
            return False
    return True


def _tags_selected(artifact: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    """Harbor's doublestar tag selector (src/lib/selector/selectors/doublestar): `matches` picks
    an artifact when any tag matches, `excludes` when any tag does not. For an untagged artifact
    the selector's `untagged` flag decides — `matches` picks it when the flag is set, `excludes`
    when it is not; the flag defaults to true for `matches` and false for `excludes`, and any
    non-empty `extras` JSON sets it to its `untagged` value (false when absent)."""
    tags = [t["name"] for t in artifact["tags"]]
    for selector in rule.get("tag_selectors") or []:
        excludes = selector.get("decoration") == "excludes"
        if tags:
            pattern = selector.get("pattern", "**")
            hits = [_doublestar(tag, pattern) for tag in tags]
            picked = not all(hits) if excludes else any(hits)
        else:
            picked = _untagged_flag(selector, excludes) != excludes
        if not picked:
            return False
    return True


def _untagged_flag(selector: Mapping[str, Any], excludes: bool) -> bool:
    default = not excludes
    extras = selector.get("extras") or ""
    if not extras:
        return default
    try:
        parsed = json.loads(extras)
    except ValueError:
        return default
    # Go's json.Unmarshal into {Untagged bool} fails (keeping the default) on anything but an
    # object whose "untagged", if present, is a boolean; an absent key leaves false.
    if not isinstance(parsed, dict) or not isinstance(parsed.get("untagged", False), bool):
        return default
    return bool(parsed.get("untagged", False))


def _template(
    rule: Mapping[str, Any], candidates: list[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    template = rule.get("template")
    params = rule.get("params") or {}
    newest = sorted(candidates, key=lambda a: a["push_time"], reverse=True)
    if template == "always":
        return candidates
    if template == "latestPushedK":
        return newest[: int(params.get("latestPushedK", 0))]
    if template == "latestPulledN":
        pulled = sorted(candidates, key=lambda a: a["pull_time"], reverse=True)
        return pulled[: int(params.get("latestPulledN", 0))]
    if template == "nDaysSinceLastPush":
        limit = datetime.now(UTC) - timedelta(days=int(params.get("nDaysSinceLastPush", 0)))
        return [a for a in candidates if _parse_time(a["push_time"]) >= limit]
    if template == "nDaysSinceLastPull":
        limit = datetime.now(UTC) - timedelta(days=int(params.get("nDaysSinceLastPull", 0)))
        return [a for a in candidates if _parse_time(a["pull_time"]) >= limit]
    raise bad_request(f"unsupported retention template {template}")


def _doublestar(value: str, pattern: str) -> bool:
    """Harbor's doublestar matching, with {a,b} alternatives."""
    match = re.match(r"^(.*)\{([^{}]*)\}(.*)$", pattern)
    if match:
        head, options, tail = match.groups()
        return any(_doublestar(value, head + option + tail) for option in options.split(","))
    if pattern == "**":
        return True
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        else:
            regex += "[^/]" if pattern[index] == "?" else re.escape(pattern[index])
            index += 1
    return re.fullmatch(regex, value) is not None


def _parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _epoch() -> int:
    return int(datetime.now(UTC).timestamp())
