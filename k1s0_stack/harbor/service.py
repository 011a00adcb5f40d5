"""Harbor's resources and rules (projects, robots, permissions, repositories, artifacts, tags, scan
overviews, retention), independent of HTTP. Errors carry Harbor's status, code and message."""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from k1s0_stack.harbor import rbac
from k1s0_stack.harbor.errors import (
    HarborError,
    bad_request,
    forbidden,
    not_found,
    unauthorized,
)
from k1s0_stack.harbor.records import (
    Access,
    Allowlist,
    Artifact,
    Project,
    Repository,
    RobotAccount,
    RobotPermission,
    Scan,
    Tag,
)
from k1s0_stack.harbor.store import ZERO_TIME, Store, hash_secret, now, secret_matches
from k1s0_stack.trivy import SEVERITIES

NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ROBOT_PREFIX = "robot$"
COSIGN_TAG_RE = re.compile(r"^sha256-([0-9a-f]{64})\.sig$")
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
    "artifact-read": (("artifact", "read"),),
    "artifact-addition-read": (("artifact-addition", "read"),),  # the vulnerability report
    "artifact-list": (("artifact", "list"),),
    "artifact-delete": (("artifact", "delete"),),
    "accessory-list": (("accessory", "list"),),
    "project-read": (("project", "read"),),
    "metadata-read": (("metadata", "read"),),
    "repository-read": (("repository", "read"), ("repository", "list")),
    "repository-delete": (("repository", "delete"),),
    # handler/retention.go: create, read, update (also to trigger a run), list executions.
    "retention": tuple(("tag-retention", a) for a in ("create", "read", "update", "list")),
}
# Exactly what the action needs (README "Robot account permissions"): push and pull the image,
# read the project (its CVE allowlist settings), read and list artifacts, read the vulnerability
# report, start and read scans, add and delete tags.
ACTION_PERMISSIONS = (
    "push",
    "pull",
    "project-read",
    "artifact-read",
    "artifact-list",
    "artifact-addition-read",
    "scan",
    "tag-create",
    "tag-delete",
    "tag-list",
)
CI_PERMISSIONS = ACTION_PERMISSIONS


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
            entry = {"resource": resource, "action": action}
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

    def allowed(
        self,
        principal: Principal | None,
        project_ref: str,
        resource: str,
        action: str,
        by_name: bool = True,
    ) -> bool:
        """Harbor's HasProjectPermission: `resource` "project" is the project itself."""
        if principal is not None and principal.admin:
            return True
        project = self._find_project(project_ref, by_name)
        if project is None:
            return False
        public = project["metadata"].get("public") == "true"
        if principal is None:
            return rbac.anonymous_can(public, resource, action)
        with self.store.lock:
            robot = self.store.data["robots"].get(str(principal.robot_id))
            permissions = copy.deepcopy(robot["permissions"]) if robot else []
        return rbac.robot_can(permissions, project["name"], public, resource, action)

    def require(
        self,
        principal: Principal | None,
        project_ref: str,
        resource: str,
        action: str,
        by_name: bool = True,
    ) -> None:
        """Harbor's RequireProjectAccess: 401 for anonymous callers, else 403."""
        if not self.allowed(principal, project_ref, resource, action, by_name):
            raise unauthorized() if principal is None else forbidden()

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
    ) -> Project:
        if not name or len(name) > 255 or not NAME_RE.match(name):
            raise bad_request("project name is not in lower case or contains illegal characters")
        with self.store.transaction() as data:
            if name in data["projects"]:
                raise HarborError(409, "CONFLICT", f"The project named {name} already exists")
            project_id = self.store.new_id()
            moment = now()
            meta = {k: str(v) for k, v in (metadata or {}).items() if v is not None}
            project: Project = {
                "project_id": project_id,
                "name": name,
                "creation_time": moment,
                "update_time": moment,
                "metadata": meta,
                "cve_allowlist": self._allowlist(project_id, cve_allowlist or {}, None),
            }
            data["projects"][name] = project
            return project

    def _allowlist(
        self, project_id: int, given: Mapping[str, Any] | None, old: Mapping[str, Any] | None
    ) -> Allowlist:
        # Harbor's allowlist DAO leaves both times at Go's zero time (captures); ids are kept
        # exactly as given (its validator only refuses empty ones).
        allowlist: Allowlist = {
            "id": (old or {}).get("id", self.store.new_id() if project_id else 0),
            "project_id": project_id,
            "items": [{"cve_id": str(i["cve_id"])} for i in (given or {}).get("items") or []],
            "creation_time": ZERO_TIME,
            "update_time": ZERO_TIME,
        }
        if any(not item["cve_id"] for item in allowlist["items"]):
            raise bad_request("empty_cve_id: empty CVE ID in allowlist")
        if (given or {}).get("expires_at") is not None:
            allowlist["expires_at"] = int((given or {})["expires_at"])
        return allowlist

    def project(self, name_or_id: str, by_name: bool = False) -> Project:
        found = self._find_project(name_or_id, by_name)
        if found is None:
            raise not_found(f"project {name_or_id} not found")
        return found

    def _find_project(self, name_or_id: str, by_name: bool) -> Project | None:
        with self.store.lock:
            projects = self.store.data["projects"]
            if name_or_id in projects:
                return copy.deepcopy(projects[name_or_id])
            if not by_name and name_or_id.isdigit():
                for project in projects.values():
                    if project["project_id"] == int(name_or_id):
                        return copy.deepcopy(project)
        return None

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
                    "precondition failed: the project contains repositories, can not be deleted",
                )
            del data["projects"][name]

    def projects(self) -> list[Project]:
        with self.store.lock:
            return [copy.deepcopy(p) for p in self.store.data["projects"].values()]

    def repo_count(self, project: str) -> int:
        with self.store.lock:
            return sum(
                1 for r in self.store.data["repositories"].values() if r["project"] == project
            )

    def system_allowlist(self) -> Allowlist:
        with self.store.lock:
            return copy.deepcopy(self.store.data["system_allowlist"])

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
    ) -> tuple[RobotAccount, str]:
        if level != "project":
            raise bad_request("only project-level robot accounts are supported here")
        if not NAME_RE.match(name):
            raise bad_request(
                f"robot name is not in lower case or contains illegal characters: {name}"
            )
        if not permissions or any(not p.get("access") for p in permissions):
            raise bad_request("bad request empty permission")
        if len(permissions) != 1 or permissions[0].get("kind") != "project":
            raise bad_request("bad request permission")
        access: list[Access] = []
        for given in permissions[0]["access"]:
            entry: Access = {"resource": str(given["resource"]), "action": str(given["action"])}
            if given.get("effect"):
                entry["effect"] = str(given["effect"])
            access.append(entry)
        project = str(permissions[0].get("namespace", ""))
        granted: list[RobotPermission] = [
            {"kind": "project", "namespace": project, "access": access}
        ]
        for resource, action in rbac.invalid_pairs(granted):
            raise bad_request(f"bad request permission: {resource}:{action}")
        project_id = self.project(project, by_name=True)["project_id"]
        full_name = f"{ROBOT_PREFIX}{project}+{name}"
        secret = secret or secrets.token_urlsafe(24)
        with self.store.transaction() as data:
            if any(r["name"] == full_name for r in data["robots"].values()):
                raise HarborError(
                    409, "CONFLICT", f"robot account {project_id}:{project}+{name} already exists"
                )
            robot_id = self.store.new_id()
            moment = now()
            expires = -1 if duration == -1 else _epoch() + duration * 86400
            robot: RobotAccount = {
                "id": robot_id,
                "name": full_name,
                "description": description,
                "level": "project",
                "project": project,
                "duration": duration,
                "expires_at": expires,
                "disable": False,
                "editable": True,
                "permissions": granted,
                "secret_hash": hash_secret(secret, self._salt),
                "creator_type": "local",
                "creator_ref": 1,
                "creation_time": moment,
                "update_time": moment,
            }
            data["robots"][str(robot_id)] = robot
            return copy.deepcopy(robot), secret

    def robots(self) -> list[RobotAccount]:
        with self.store.lock:
            return [copy.deepcopy(r) for r in self.store.data["robots"].values()]

    def robot(self, robot_id: int) -> RobotAccount:
        with self.store.lock:
            robot = self.store.data["robots"].get(str(robot_id))
        if robot is None:
            raise not_found(f"robot {robot_id} not found")
        return copy.deepcopy(robot)

    def delete_robot(self, robot_id: int) -> None:
        with self.store.transaction() as data:
            if data["robots"].pop(str(robot_id), None) is None:
                raise not_found(f"robot {robot_id} not found")

    # -- repositories -----------------------------------------------------------------------

    def repository(self, project: str, name: str) -> Repository:
        self.project(project, by_name=True)
        with self.store.lock:
            repo = self.store.data["repositories"].get(f"{project}/{name}")
        if repo is None:
            raise not_found(f"repository {project}/{name} not found")
        return copy.deepcopy(repo)

    def repositories(self, project: str) -> list[Repository]:
        self.project(project, by_name=True)
        with self.store.lock:
            repos = [
                copy.deepcopy(r)
                for r in self.store.data["repositories"].values()
                if r["project"] == project
            ]
        return sorted(repos, key=lambda r: r["update_time"], reverse=True)

    def ensure_repository(self, full_name: str) -> Repository:
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
            return copy.deepcopy(repo)

    def artifact_count(self, full_name: str) -> int:
        with self.store.lock:
            return sum(
                1
                for a in self.store.data["artifacts"].values()
                if a["repository"] == full_name and not a.get("accessory_of")
            )

    def delete_repository(self, project: str, name: str) -> list[Artifact]:
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
    ) -> tuple[Artifact, bool]:
        """Records a manifest push; returns the artifact and whether it is new."""
        repo = self.ensure_repository(full_name)
        moment = now()
        tag = None if reference.startswith("sha256:") else reference
        with self.store.transaction() as data:
            artifacts = data["artifacts"]
            found = next(
                (
                    a
                    for a in artifacts.values()
                    if a["repository"] == full_name and a["digest"] == digest
                ),
                None,
            )
            created = found is None
            config = manifest.get("config") or {}
            if found is None:
                artifact: Artifact = {
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
                    # What the OCI referrers API lists for it (OCI distribution spec 1.1).
                    "descriptor": {
                        "mediaType": manifest_media_type,
                        "digest": digest,
                        "size": manifest_size,
                        "artifactType": manifest.get("artifactType") or config.get("mediaType"),
                        "annotations": dict(manifest.get("annotations") or {}),
                    },
                }
                if manifest.get("artifactType"):
                    artifact["artifact_type"] = manifest["artifactType"]
                subject, kind = _accessory_subject(tag, manifest)
                if subject:
                    artifact["accessory_of"] = subject
                    artifact["accessory_type"] = kind
                artifacts[str(artifact["id"])] = artifact
            else:
                artifact = found
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
            return copy.deepcopy(artifact), created

    def resolve(self, full_name: str, reference: str) -> Artifact | None:
        with self.store.lock:
            for artifact in self.store.data["artifacts"].values():
                if artifact["repository"] != full_name:
                    continue
                if artifact["digest"] == reference or any(
                    t["name"] == reference for t in artifact["tags"]
                ):
                    found: Artifact = artifact
                    return found
        return None

    def artifact(self, project: str, name: str, reference: str) -> Artifact:
        self.project(project, by_name=True)
        full_name = f"{project}/{name}"
        with self.store.lock:
            found = self.resolve(full_name, reference)
            if found is None:
                separator = "@" if reference.startswith("sha256:") else ":"
                raise not_found(f"artifact {full_name}{separator}{reference} not found")
            # A snapshot: scans and pushes change the stored record from other threads.
            return copy.deepcopy(found)

    def artifacts(self, project: str, name: str) -> list[Artifact]:
        """Harbor lists the artifacts of a repository that does not exist as none (200 [])."""
        self.project(project, by_name=True)
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

    def accessories(self, full_name: str, digest: str) -> list[Artifact]:
        with self.store.lock:
            return [
                copy.deepcopy(a)
                for a in self.store.data["artifacts"].values()
                if a["repository"] == full_name and a.get("accessory_of") == digest
            ]

    def delete_artifact(self, artifact_id: int) -> list[Artifact]:
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

    def create_tag(self, artifact_id: int, tag: str) -> Tag:
        with self.store.transaction() as data:
            artifact = data["artifacts"][str(artifact_id)]
            for other in data["artifacts"].values():
                if other["repository"] == artifact["repository"] and any(
                    t["name"] == tag for t in other["tags"]
                ):
                    raise HarborError(
                        409,
                        "CONFLICT",
                        f"tag {tag} already exists under the repository "
                        f"{artifact['repository_id']}",
                    )
            entry: Tag = {
                "id": self.store.new_id(),
                "name": tag,
                "push_time": now(),
                "pull_time": ZERO_TIME,
            }
            artifact["tags"].append(entry)
            return copy.deepcopy(entry)

    def delete_tag(self, artifact_id: int, tag: str) -> None:
        with self.store.transaction() as data:
            artifact = data["artifacts"][str(artifact_id)]
            kept = [t for t in artifact["tags"] if t["name"] != tag]
            if len(kept) == len(artifact["tags"]):
                raise not_found(f"tag {tag} attached to artifact {artifact_id} not found")
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

    def effective_allowlist(self, project: Project) -> set[str]:
        """The CVE ids exempted in `project`: the system's or its own, unless expired.
        Harbor: src/pkg/project/models/project.go ReuseSysCVEAllowlist (an absent key is true),
        src/pkg/allowlist/models/cve_allowlist.go IsExpired (null never, else now >= expires_at)
        and CVESet (exact ids)."""
        reuse = project["metadata"].get("reuse_sys_cve_allowlist")
        allowlist = (
            self.system_allowlist()
            if reuse is None or _is_true(reuse)
            else project["cve_allowlist"]
        )
        expires = allowlist.get("expires_at")
        if expires is not None and _epoch() >= expires:
            return set()
        return {item["cve_id"] for item in allowlist.get("items") or []}

    def pull_refusal(self, project_name: str, artifact: Artifact) -> str | None:
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
        if not scan or scan.get("status") in ("Queued", "Refused"):
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
        report = scan.get("report") or {}
        # middleware/vulnerable/vulnerable.go: the highest severity among the findings the
        # allowlist does not exempt decides; the message counts all of those findings.
        blocking = [v for v in report.get("vulnerabilities") or [] if v["id"] not in exempt]
        highest = max((order.index(v["severity"]) for v in blocking), default=0)
        if not blocking or highest < order.index(threshold):
            return None
        thing = "vulnerabilities" if len(blocking) > 1 else "vulnerability"
        return (
            f"current image with {len(blocking)} {thing} cannot be pulled due to {policy} to "
            "exempt matched vulnerabilities through configuring the CVE allowlist."
        )

    # -- scans ------------------------------------------------------------------------------

    def set_scan(self, artifact_id: int, scan: Mapping[str, Any] | None) -> None:
        with self.store.transaction() as data:
            data["artifacts"][str(artifact_id)]["scan"] = cast(Scan, dict(scan)) if scan else None

    def unfinished_scans(self) -> int:
        with self.store.lock:
            return sum(
                1
                for a in self.store.data["artifacts"].values()
                if (a.get("scan") or {}).get("status") in ("Queued", "Pending", "Running")
            )

    def update_scan(self, artifact_id: int, **fields: Any) -> Artifact | None:
        with self.store.transaction() as data:
            artifact = data["artifacts"].get(str(artifact_id))
            if artifact is None:
                return None
            scan: dict[str, Any] = dict(artifact.get("scan") or {})
            scan.update(fields)
            artifact["scan"] = cast(Scan, scan)
            return copy.deepcopy(artifact)


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


def scannable(artifact: Artifact) -> bool:
    # Harbor types an artifact by its config: a BuildKit cache (config
    # application/vnd.buildkit.cacheconfig.v0) is UNKNOWN, and Harbor does not scan it.
    return (
        not artifact.get("accessory_of")
        and artifact["manifest_media_type"] in SCANNABLE_MEDIA_TYPES
        and artifact.get("media_type") != BUILDKIT_CACHE_CONFIG
    )


def _is_true(value: str) -> bool:
    """project.go isTrue: "true" in any case, or "1"."""
    return value.lower() == "true" or value == "1"


def _epoch() -> int:
    return int(datetime.now(UTC).timestamp())
