"""ping, systeminfo, the system CVE allowlist, the current user."""

from __future__ import annotations

from flask import Blueprint, Response

from k1s0_stack.harbor import rbac
from k1s0_stack.harbor.errors import HarborError, forbidden, unauthorized
from k1s0_stack.harbor.store import ZERO_TIME, now
from k1s0_stack.harbor.web import (
    ServerContext,
    allowlist_json,
    body,
    caller,
    empty,
    json_response,
    router,
)

HARBOR_VERSION = "v2.15.2-k1s0"


def register(bp: Blueprint, ctx: ServerContext) -> None:
    route = router(bp)
    harbor = ctx.harbor

    @route("/ping", "getPing", ["GET"])
    def get_ping() -> Response:
        return Response("Pong", mimetype="text/plain")

    @route("/systeminfo", "getSystemInfo", ["GET"])
    def get_system_info() -> Response:
        return json_response(
            {
                "auth_mode": "db_auth",
                "primary_auth_mode": False,
                "harbor_version": HARBOR_VERSION,
                "registry_url": ctx.registry_host,
                "external_url": ctx.url,
                "project_creation_restriction": "adminonly",
                "self_registration": False,
                "has_ca_root": False,
                "read_only": False,
                "notification_enable": True,
                "current_time": now(),
                "banner_message": "",
                "oidc_provider_name": "",
                "registry_storage_provider_name": "filesystem",
            }
        )

    @route("/system/CVEAllowlist", "getSystemCVEAllowlist", ["GET"])
    def get_system_allowlist() -> Response:
        if caller() is None:
            raise unauthorized()
        return json_response(allowlist_json(harbor.system_allowlist()))

    @route("/users/current", "getCurrentUserInfo", ["GET"])
    def get_current_user() -> Response:
        who = caller()
        if who is None:
            raise unauthorized()
        if not who.admin:
            # handler/user.go: only a local user's security context has a current user.
            raise HarborError(
                412, "PRECONDITION", "get current user not available for security context: robot"
            )
        return json_response(
            {
                "user_id": 1,
                "username": "admin",
                "email": "admin@example.com",
                "realname": "system admin",
                "comment": "admin user",
                "sysadmin_flag": True,
                "admin_role_in_auth": False,
                "creation_time": ZERO_TIME,
                "update_time": ZERO_TIME,
            }
        )

    @route("/permissions", "getPermissions", ["GET"])
    def get_permissions() -> Response:
        # handler/permissions.go: system admins see both scopes; robots are refused.
        who = caller()
        if who is None:
            raise unauthorized()
        if not who.admin:
            raise forbidden("only admins(system and project) can access permissions")
        return json_response(
            {
                scope: [{"resource": r, "action": a} for r, a in pairs]
                for scope, pairs in (
                    ("system", rbac.SYSTEM_PERMISSION_LIST),
                    ("project", rbac.PROJECT_PERMISSION_LIST),
                )
            }
        )

    @route("/system/CVEAllowlist", "putSystemCVEAllowlist", ["PUT"])
    def put_system_allowlist() -> Response:
        harbor.require_admin(caller())
        harbor.set_system_allowlist(body())
        return empty()
