"""The status over JSON, and the operators' incident API (Bearer PEAKSHOP_OPS_TOKEN)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.core import resources
from shop.core.http import json_body
from shop.core.openapi import OPS_BEARER, Response, api, problems
from shop.core.ops_auth import require_ops_token
from shop.merchants.service import shop_by_slug
from shop.status import service
from shop.status.models import Incident
from shop.status.schemas import (
    IncidentOut,
    Incidents,
    NewIncident,
    NewUpdate,
    PostedUpdate,
    StatusOut,
)
from shop.status.snapshot import current_cache

blueprint = Blueprint("status_api", __name__, url_prefix="/api/v1")


def platform_status() -> dict:
    def load():
        with resources.current().database.reading() as session:
            return service.status_json(session)
    return current_cache().get("platform", load)


def shop_status(slug: str) -> dict:
    def load():
        with resources.current().database.reading() as session:
            merchant = shop_by_slug(session, slug)
            return {**service.status_json(session, merchant.id),
                    "shop": {"slug": merchant.slug, "name": merchant.name}}
    return current_cache().get("shop:" + slug, load)


@blueprint.get("/status")
@api.validate(resp=Response(HTTP_200=StatusOut), tags=["status"])
def show_platform_status():
    """The platform's status: components and open incidents."""
    return platform_status()


@blueprint.get("/shops/<slug>/status")
@api.validate(resp=Response(HTTP_200=StatusOut, **problems(404)), tags=["status"])
def show_shop_status(slug: str):
    """One shop's status: the platform's incidents and the shop's own."""
    return shop_status(slug)


@blueprint.post("/ops/incidents")
@require_ops_token
@api.validate(json=NewIncident, resp=Response(HTTP_201=IncidentOut, **problems(401, 403, 422)),
              tags=["operations"], security=OPS_BEARER)
def open_incident():
    """Open an incident; customers see it on the status page, merchants get webhooks."""
    new = service.read_new_incident(json_body())
    with resources.current().database.transaction() as session:
        incident = service.open_incident(session, new)
        document = service.incident_json(incident)
    current_cache().forget()
    return document, 201


@blueprint.get("/ops/incidents")
@require_ops_token
@api.validate(resp=Response(HTTP_200=Incidents, **problems(401, 403)), tags=["operations"],
              security=OPS_BEARER)
def list_incidents():
    """The newest incidents of the platform and of every shop."""
    with resources.current().database.reading() as session:
        incidents = session.scalars(select(Incident).options(selectinload(Incident.updates))
                                    .order_by(Incident.id.desc()).limit(100))
        return {"items": [service.incident_json(i) for i in incidents]}


@blueprint.get("/ops/incidents/<incident_id>")
@require_ops_token
@api.validate(resp=Response(HTTP_200=IncidentOut, **problems(401, 403, 404)),
              tags=["operations"], security=OPS_BEARER)
def show_incident(incident_id: str):
    """One incident with all its updates."""
    with resources.current().database.reading() as session:
        return service.incident_json(service.incident_by_id(session, incident_id))


@blueprint.post("/ops/incidents/<incident_id>/updates")
@require_ops_token
@api.validate(json=NewUpdate,
              resp=Response(HTTP_201=PostedUpdate, **problems(401, 403, 404, 409, 422)),
              tags=["operations"], security=OPS_BEARER)
def post_update(incident_id: str):
    """Post an update: a message, maybe a new status or ETA; "resolved" closes it."""
    update = service.read_update(json_body())
    with resources.current().database.transaction() as session:
        row = service.add_update(session, incident_id, update)
        document = {"incident_id": row.incident_id, "at": service.rfc3339(row.at),
                    "status": row.status, "message": row.message,
                    "incident": service.incident_json(row.incident)}
    current_cache().forget()
    return document, 201
