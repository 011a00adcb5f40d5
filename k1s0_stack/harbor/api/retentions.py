"""Tag retention policies and their executions (evaluation: harbor/retention.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response

from k1s0_stack.harbor.errors import HarborError, bad_request, unauthorized
from k1s0_stack.harbor.records import Project, RetentionPolicy
from k1s0_stack.harbor.retention import TEMPLATES, retained
from k1s0_stack.harbor.store import now
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


def _template(name: str, text: str, unit: str | None) -> dict[str, Any]:
    params = [{"type": "int", "unit": unit, "required": True}] if unit else []
    return {"rule_template": name, "display_text": text, "action": "retain", "params": params}


# handler/retention.go rentenitionMetadataPayload.
METADATA = {
    "templates": [
        _template("latestPushedK", "the most recently pushed # artifacts", "COUNT"),
        _template("latestPulledN", "the most recently pulled # artifacts", "COUNT"),
        _template("nDaysSinceLastPush", "pushed within the last # days", "DAYS"),
        _template("nDaysSinceLastPull", "pulled within the last # days", "DAYS"),
        _template("always", "always", None),
    ],
    "scope_selectors": [
        {
            "display_text": "Repositories",
            "kind": "doublestar",
            "decorations": ["repoMatches", "repoExcludes"],
        }
    ],
    "tag_selectors": [
        {"display_text": "Tags", "kind": "doublestar", "decorations": ["matches", "excludes"]}
    ],
}


def register(bp: Blueprint, ctx: ServerContext) -> None:
    route = router(bp)
    harbor = ctx.harbor

    def retention_project(policy: Mapping[str, Any], action: str) -> Project:
        scope = policy.get("scope") or {}
        if scope.get("level") != "project":
            raise bad_request(f"bad request: scope {scope.get('level')} is not support")
        ref = scope.get("ref")
        if not isinstance(ref, int) or ref <= 0:
            raise bad_request(f"bad request: invalid Project id {ref}")
        harbor.require(caller(), str(ref), "tag-retention", action, by_name=False)
        try:
            return harbor.project(str(ref))
        except HarborError:
            raise bad_request(f"bad request: invalid Project id {ref}") from None

    def checked_rules(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
        if policy.get("algorithm", "or") != "or":
            raise bad_request('retention algorithm must be "or"')
        rules = []
        for rule in policy.get("rules") or []:
            if rule.get("action", "retain") != "retain":
                raise bad_request('retention rule action must be "retain"')
            if rule.get("template") not in TEMPLATES:
                raise bad_request(f"unsupported retention template {rule.get('template')}")
            # Stored as given; Harbor's model omits a zero id/priority and disabled=false.
            kept = {k: v for k, v in rule.items() if v not in (0, False) or k == "params"}
            rules.append({**kept, "action": "retain"})
        if len(rules) > 15:
            raise bad_request("a retention policy holds at most 15 rules")
        return rules

    def retention(retention_id: int, action: str) -> dict[str, Any]:
        with harbor.store.lock:
            policy = harbor.store.data["retentions"].get(str(retention_id))
        if policy is None:
            # Harbor's retention controller does not map the missing row to 404: 500.
            raise HarborError(500, "UNKNOWN", "internal server error")
        project = harbor.project(str(policy["scope"]["ref"]))
        harbor.require(caller(), project["name"], "tag-retention", action)
        return dict(policy)

    def policy_json(policy: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in policy.items() if k != "executions"}

    @route("/retentions/metadatas", "getRentenitionMetadata", ["GET"])
    def get_retention_metadata() -> Response:
        if caller() is None:
            raise unauthorized()
        return json_response(METADATA)

    @route("/retentions", "createRetention", ["POST"])
    def create_retention() -> Response:
        req = body()
        rules = checked_rules(req)
        project = retention_project(req, "create")
        if project["metadata"].get("retention_id"):
            raise bad_request(
                f"bad request: project {project['project_id']} already has retention policy "
                + project["metadata"]["retention_id"]
            )
        policy_id = harbor.store.new_id()
        policy: RetentionPolicy = {
            "id": policy_id,
            "algorithm": "or",
            "rules": rules,
            "trigger": req.get("trigger") or {"kind": "Schedule", "settings": {"cron": ""}},
            "scope": {"level": "project", "ref": project["project_id"]},
            "executions": [],
        }
        with harbor.store.transaction() as data:
            data["retentions"][str(policy_id)] = policy
        harbor.update_project(project["name"], {"retention_id": str(policy_id)}, None)
        return empty(201, {"Location": f"{API}/retentions/{policy_id}"})

    @route("/retentions/<int:retention_id>", "getRetention", ["GET"])
    def get_retention(retention_id: int) -> Response:
        return json_response(policy_json(retention(retention_id, "read")))

    @route("/retentions/<int:retention_id>", "updateRetention", ["PUT"])
    def update_retention(retention_id: int) -> Response:
        retention(retention_id, "update")
        req = body()
        rules = checked_rules(req)
        with harbor.store.transaction() as data:
            stored = data["retentions"][str(retention_id)]
            stored["rules"] = rules
            if req.get("trigger"):
                stored["trigger"] = req["trigger"]
        return empty()

    @route("/retentions/<int:retention_id>/executions", "triggerRetentionExecution", ["POST"])
    def trigger_retention(retention_id: int) -> Response:
        policy = retention(retention_id, "update")  # handler/retention.go: ActionUpdate
        dry_run = bool(body().get("dry_run", False))
        project = harbor.project(str(policy["scope"]["ref"]))
        started = now()
        with harbor.store.lock:
            candidates = [
                dict(a)
                for a in harbor.store.data["artifacts"].values()
                if a["repository"].startswith(project["name"] + "/") and not a.get("accessory_of")
            ]
        _, doomed = retained(candidates, policy["rules"], project["name"])
        if not dry_run:
            for artifact in doomed:
                for gone in harbor.delete_artifact(int(artifact["id"])):
                    ctx.delete_manifest(gone["repository"], gone["digest"])
        execution_id = harbor.store.new_id()
        with harbor.store.transaction() as data:
            data["retentions"][str(retention_id)]["executions"].append(
                {
                    "id": execution_id,
                    "policy_id": retention_id,
                    "start_time": started,
                    "end_time": now(),
                    "status": "Succeed",
                    "trigger": "MANUAL",
                    "dry_run": dry_run,
                    "deleted": [f"{a['repository']}@{a['digest']}" for a in doomed],
                }
            )
        return empty(
            201, {"Location": f"{API}/retentions/{retention_id}/executions/{execution_id}"}
        )

    @route("/retentions/<int:retention_id>/executions", "listRetentionExecutions", ["GET"])
    def list_retention_executions(retention_id: int) -> Response:
        policy = retention(retention_id, "list")
        executions = sorted(policy["executions"], key=lambda e: e["id"], reverse=True)
        shown, headers = page([{k: v for k, v in e.items() if k != "deleted"} for e in executions])
        return json_response(shown, headers=headers)
