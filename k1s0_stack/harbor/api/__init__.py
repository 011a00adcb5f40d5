"""Harbor's REST API (/api/v2.0), one module per resource; every view's endpoint name is the
swagger operationId, which is also what faults are injected by."""

from __future__ import annotations

from flask import Blueprint

from k1s0_stack.harbor.api import (
    artifacts,
    projects,
    repositories,
    retentions,
    robots,
    system,
    tags,
)
from k1s0_stack.harbor.web import ServerContext


def make_api(ctx: ServerContext) -> Blueprint:
    """The API blueprint of the running server `ctx`."""
    bp = Blueprint("harbor_api", __name__)
    for resource in (system, projects, robots, repositories, artifacts, tags, retentions):
        resource.register(bp, ctx)
    return bp
