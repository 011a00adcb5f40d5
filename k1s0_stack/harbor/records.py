"""The stored records' shapes. They live as JSON in `state.json` (store.py) and are changed in
place under the store's lock, so they are TypedDicts; the service hands out deep copies."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class AllowlistItem(TypedDict):
    cve_id: str


class Allowlist(TypedDict):
    id: int
    project_id: int
    items: list[AllowlistItem]
    creation_time: str
    update_time: str
    expires_at: NotRequired[int | None]  # absent = never expires (Harbor: omitempty, nil)


class Project(TypedDict):
    project_id: int
    name: str
    creation_time: str
    update_time: str
    metadata: dict[str, str]  # only the keys that were set, as Harbor stores them
    cve_allowlist: Allowlist


class Access(TypedDict):
    resource: str
    action: str
    effect: NotRequired[str]  # "allow" | "deny"; absent when not given (Harbor: omitempty)


class RobotPermission(TypedDict):
    kind: str
    namespace: str
    access: list[Access]


class RobotAccount(TypedDict):
    id: int
    name: str
    description: str
    level: str
    project: str
    duration: int
    expires_at: int
    disable: bool
    editable: bool
    permissions: list[RobotPermission]
    secret_hash: str
    creator_type: str
    creator_ref: int
    creation_time: str
    update_time: str


class Repository(TypedDict):
    id: int
    project_id: int
    project: str
    name: str
    pull_count: int
    creation_time: str
    update_time: str


class Tag(TypedDict):
    id: int
    name: str
    push_time: str
    pull_time: str


class Scan(TypedDict, total=False):
    report_id: str
    # Queued (no overview yet) | Pending | Running | Success | Error | Stopped | Refused (the
    # scanner refused the request; Harbor keeps a report row without a job)
    status: str
    start_time: str | None
    end_time: str | None
    complete_percent: int
    duration: int
    report: dict[str, Any] | None
    log: str


class Artifact(TypedDict):
    id: int
    project_id: int
    repository_id: int
    repository: str
    digest: str
    manifest_media_type: str
    media_type: str
    size: int
    push_time: str
    pull_time: str
    extra_attrs: dict[str, Any]
    annotations: dict[str, str]
    references: list[dict[str, Any]]
    tags: list[Tag]
    scan: Scan | None
    accessory_of: str | None
    accessory_type: str | None
    descriptor: dict[str, Any]
    artifact_type: NotRequired[str]


class RetentionPolicy(TypedDict):
    id: int
    algorithm: str
    rules: list[dict[str, Any]]
    trigger: dict[str, Any]
    scope: dict[str, Any]
    executions: list[dict[str, Any]]


class State(TypedDict):
    """Everything in state.json; records keyed by name (projects, repositories) or str(id)."""

    next_id: int
    projects: dict[str, Project]
    robots: dict[str, RobotAccount]
    repositories: dict[str, Repository]
    artifacts: dict[str, Artifact]
    retentions: dict[str, RetentionPolicy]
    system_allowlist: Allowlist
