"""Robot accounts (/robots, level project, as Harbor 2.15 has them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, request

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


def register(bp: Blueprint, ctx: ServerContext) -> None:
    route = router(bp)
    harbor = ctx.harbor

    def robot_json(robot: Mapping[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in robot.items() if k not in ("secret_hash", "project")}
        return shown

    @route("/robots", "ListRobot", ["GET"])
    def list_robots() -> Response:
        harbor.require_admin(caller())
        robots = harbor.robots()
        for clause in (request.args.get("q") or "").split(","):
            key, _, value = clause.partition("=")
            if key == "Level":
                robots = [r for r in robots if r["level"] == value]
            elif key == "ProjectID":
                names = [p["name"] for p in harbor.projects() if str(p["project_id"]) == value]
                robots = [r for r in robots if r["project"] in names]
        shown, headers = page(sorted(robots, key=lambda r: r["id"]))
        return json_response([robot_json(r) for r in shown], headers=headers)

    @route("/robots", "CreateRobot", ["POST"])
    def create_robot() -> Response:
        harbor.require_admin(caller())
        req = body()
        robot, secret = harbor.create_robot(
            name=str(req.get("name") or ""),
            level=str(req.get("level") or ""),
            permissions=req.get("permissions") or [],
            duration=int(req.get("duration", -1)),
            description=str(req.get("description") or ""),
            secret=req.get("secret") or None,
        )
        created = {
            "id": robot["id"],
            "name": robot["name"],
            "secret": secret,
            "creation_time": robot["creation_time"],
            "expires_at": robot["expires_at"],
        }
        return json_response(created, 201, {"Location": f"{API}/robots/{robot['id']}"})

    @route("/robots/<int:robot_id>", "GetRobotByID", ["GET"])
    def get_robot(robot_id: int) -> Response:
        harbor.require_admin(caller())
        return json_response(robot_json(harbor.robot(robot_id)))

    @route("/robots/<int:robot_id>", "DeleteRobot", ["DELETE"])
    def delete_robot(robot_id: int) -> Response:
        harbor.require_admin(caller())
        harbor.delete_robot(robot_id)
        return empty()
