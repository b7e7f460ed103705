"""Announced events over JSON, for the merchant (the role matrix guards every route)."""

from __future__ import annotations

from flask import Blueprint

from shop.core import resources
from shop.core.http import json_body
from shop.core.openapi import BEARER, Response, api, problems
from shop.core.timeutil import rfc3339
from shop.events import service
from shop.events.schemas import EventChanges, EventOut, Events, NewEvent
from shop.events.service import PlannedEvent
from shop.merchants.access import acting

blueprint = Blueprint("events_api", __name__, url_prefix="/api/v1/shops/<slug>/events")


def capacity_settings() -> service.CapacitySettings:
    settings = resources.current().settings
    return service.CapacitySettings(settings.pod_max_rps, settings.pod_target_utilisation)


def event_json(planned: PlannedEvent, *, with_shop: bool = False) -> dict:
    event = planned.event
    body = {"id": event.id, "name": event.name, "starts_at": rfc3339(event.starts_at),
            "ends_at": rfc3339(service.ends_at(event)), "duration_min": event.duration_min,
            "expected_peak_rps": event.expected_peak_rps,
            "planned_capacity": planned.planned_capacity,
            "created_at": rfc3339(event.created_at), "updated_at": rfc3339(event.updated_at)}
    if with_shop:
        body = {"id": event.id, "shop": planned.slug, **body}
    return body


def _one(session, event) -> dict:
    return event_json(service.with_capacity(session, [event], capacity_settings())[0])


@blueprint.post("")
@api.validate(json=NewEvent, resp=Response(HTTP_201=EventOut, **problems(401, 402, 403, 422, 429)),
              tags=["events"], security=BEARER)
def create_event(slug: str):
    """Announce a peak: name, start (RFC 3339 with offset), length and expected rate."""
    data = json_body()
    with resources.current().database.transaction() as session:
        event = service.create_event(session, acting().merchant_id, slug, data)
        return _one(session, event), 201


@blueprint.get("")
@api.validate(resp=Response(HTTP_200=Events, **problems(401, 403, 429)), tags=["events"],
              security=BEARER)
def list_events(slug: str):
    """The shop's events, soonest first, each with the capacity planned for it."""
    with resources.current().database.reading() as session:
        events = service.list_events(session, acting().merchant_id)
        return {"items": [event_json(planned) for planned in
                          service.with_capacity(session, events, capacity_settings())]}


@blueprint.get("/<int:event_id>")
@api.validate(resp=Response(HTTP_200=EventOut, **problems(401, 403, 404, 429)),
              tags=["events"], security=BEARER)
def show_event(slug: str, event_id: int):
    """One event with its planned capacity."""
    with resources.current().database.reading() as session:
        return _one(session, service.get_event(session, acting().merchant_id, event_id))


@blueprint.patch("/<int:event_id>")
@api.validate(json=EventChanges,
              resp=Response(HTTP_200=EventOut, **problems(401, 402, 403, 404, 422, 429)),
              tags=["events"], security=BEARER)
def update_event(slug: str, event_id: int):
    """Change an event's name, start, length or expected rate."""
    data = json_body()
    with resources.current().database.transaction() as session:
        event = service.update_event(session, acting().merchant_id, slug, event_id, data)
        return _one(session, event)


@blueprint.delete("/<int:event_id>")
@api.validate(resp=Response(HTTP_204=None, **problems(401, 403, 404, 429)), tags=["events"],
              security=BEARER)
def delete_event(slug: str, event_id: int):
    """Cancel an event."""
    with resources.current().database.transaction() as session:
        service.delete_event(session, acting().merchant_id, event_id)
    return "", 204
