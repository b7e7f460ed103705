"""Liveness and readiness, as Kubernetes probes and load balancers ask for them."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text

from shop.core import resources
from shop.core.errors import problem_response
from shop.core.openapi import Response, api
from shop.ops.schemas import Alive, Ready

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
@api.validate(resp=Response(HTTP_200=Alive), tags=["operations"])
def healthz():
    """The process is alive and serving."""
    return {"status": "ok"}


@blueprint.get("/readyz")
@api.validate(resp=Response(HTTP_200=Ready, HTTP_503=None), tags=["operations"])
def readyz():
    """The database and Redis both answer; otherwise take this pod out of rotation."""
    current = resources.current()
    failures = []
    try:
        with current.database.reading() as session:
            session.execute(text("SELECT 1"))
    except Exception as problem:  # any failure means "not ready", whatever its kind
        failures.append(f"database: {type(problem).__name__}")
    try:
        current.redis.ping()
    except Exception as problem:
        failures.append(f"redis: {type(problem).__name__}")
    if failures:
        return problem_response(503, "not_ready", "Not ready", "; ".join(failures))
    return {"status": "ready", "database": "ok", "redis": "ok"}
