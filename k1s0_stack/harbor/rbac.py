"""Harbor's project permissions and how a robot's are evaluated.

Sources (goharbor/harbor v2.15.2):
- the valid project-level (resource, action) pairs: `src/common/rbac/const.go` (served by
  `GET /permissions`, captured in permissions_list.http); a robot asking for any other pair is
  refused with 400 "bad request permission: <resource>:<action>" (`handler/robot.go`, validate);
- a project robot's policies: `src/common/security/robot/context.go` (`filterRobotPolicies`: only
  the robot's own project; a `push` grants `pull` too; `project` is the project itself);
- public projects: `src/common/rbac/project/rbac_util.go` (`publicProjectPolicies`) are added for
  everyone, anonymous included;
- `RequireProjectAccess` (`handler/base.go`): a project looked up by a name that does not exist
  has ID 0, so nobody but an admin has access (403; anonymous 401).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from k1s0_stack.harbor.records import RobotPermission

Pair = tuple[str, str]

_PROJECT_PERMISSIONS = """
log:list project:read project:delete project:update metadata:read metadata:create metadata:delete
metadata:list metadata:update repository:read repository:update repository:delete repository:list
repository:pull repository:push artifact:read artifact:create artifact:list artifact:delete
scan:create scan:read scan:stop sbom:create sbom:stop sbom:read tag:create tag:list tag:delete
accessory:list artifact-addition:read artifact-label:create artifact-label:delete scanner:create
scanner:read preheat-policy:read preheat-policy:create preheat-policy:delete preheat-policy:list
preheat-policy:update immutable-tag:create immutable-tag:delete immutable-tag:list
immutable-tag:update notification-policy:read notification-policy:create
notification-policy:delete notification-policy:list notification-policy:update
tag-retention:read tag-retention:create tag-retention:delete tag-retention:list
tag-retention:update label:read label:create label:delete label:list label:update quota:read
robot:create robot:read robot:list robot:delete export-cve:create export-cve:read member:create
member:read member:update member:list member:delete
"""
_SYSTEM_PERMISSIONS = """
audit-log:list preheat-instance:read preheat-instance:create preheat-instance:delete
preheat-instance:list preheat-instance:update project:list project:create replication-policy:read
replication-policy:create replication-policy:delete replication-policy:list
replication-policy:update replication:read replication:create replication:list
replication-adapter:list registry:read registry:create registry:delete registry:list
registry:update scan-all:read scan-all:update scan-all:stop scan-all:create system-volumes:read
garbage-collection:read garbage-collection:create garbage-collection:list
garbage-collection:update garbage-collection:stop purge-audit:read purge-audit:create
purge-audit:list purge-audit:update purge-audit:stop jobservice-monitor:list
jobservice-monitor:stop scanner:read scanner:create scanner:delete scanner:list scanner:update
label:read label:create label:delete label:update security-hub:read security-hub:list
catalog:read quota:read quota:list robot:create robot:read robot:list robot:delete user:create
user:read user:update user:list user:delete ldap-user:create ldap-user:list quota:update
user-group:create user-group:read user-group:update user-group:list user-group:delete
"""


def _pairs(text: str) -> tuple[Pair, ...]:
    return tuple((r, a) for r, _, a in (p.partition(":") for p in text.split()))


# In Harbor's order (GET /permissions lists them so).
PROJECT_PERMISSION_LIST = _pairs(_PROJECT_PERMISSIONS)
SYSTEM_PERMISSION_LIST = _pairs(_SYSTEM_PERMISSIONS)
PROJECT_PERMISSIONS: frozenset[Pair] = frozenset(PROJECT_PERMISSION_LIST)

PUBLIC_PROJECT_POLICIES: frozenset[Pair] = frozenset(
    {
        ("project", "read"),
        ("label", "read"),
        ("label", "list"),
        ("repository", "list"),
        ("repository", "pull"),
        ("scan", "read"),
        ("scanner", "read"),
        ("tag", "list"),
        ("artifact", "read"),
        ("artifact", "list"),
        ("artifact-addition", "read"),
        ("accessory", "list"),
    }
)


def invalid_pairs(permissions: Sequence[RobotPermission]) -> list[Pair]:
    return [
        (access["resource"], access["action"])
        for permission in permissions
        for access in permission["access"]
        if (access["resource"], access["action"]) not in PROJECT_PERMISSIONS
    ]


def robot_can(
    permissions: Iterable[RobotPermission], project: str, public: bool, resource: str, action: str
) -> bool:
    """Whether a project robot with `permissions` may do `action` on `resource` of `project`;
    a `deny` entry wins over any `allow` (Harbor's casbin model)."""
    allowed = public and (resource, action) in PUBLIC_PROJECT_POLICIES
    for permission in permissions:
        if permission["kind"] != "project" or permission["namespace"] not in (project, "*"):
            continue
        for access in permission["access"]:
            granted = {access["action"]}
            if access["action"] == "push":
                granted.add("pull")
            if access["resource"] != resource or not ({action, "*"} & granted):
                continue
            if access.get("effect") == "deny":
                return False
            allowed = True
    return allowed


def anonymous_can(public: bool, resource: str, action: str) -> bool:
    return public and (resource, action) in PUBLIC_PROJECT_POLICIES
