"""The scaler's view of every shop's announced events, and where it records its plans."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Blueprint, request

from shop.core import resources
from shop.core.errors import InvalidInput
from shop.core.http import json_body
from shop.core.openapi import OPS_BEARER, Response, api, problems
from shop.core.ops_auth import require_ops_token
from shop.core.timeutil import parse_rfc3339, utcnow
from shop.events import service
from shop.events.api import capacity_settings, event_json
from shop.events.schemas import EventWindow, RecordedPlan, ShopEventOut, ShopEvents
from shop.merchants import audit

blueprint = Blueprint("events_ops_api", __name__, url_prefix="/api/v1/ops/events")

DEFAULT_HORIZON = timedelta(days=7)


def _query_time(name: str):
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    # An unescaped '+' in a query string arrives as a space: take it back.
    raw = re.sub(r" (\d{2}:\d{2})$", r"+\1", raw)
    try:
        return parse_rfc3339(raw)
    except ValueError as problem:
        raise InvalidInput(f"'{name}' {problem} (in a URL, write '+' as %2B)") from None


@blueprint.get("")
@require_ops_token
@api.validate(query=EventWindow, resp=Response(HTTP_200=ShopEvents, **problems(401, 403, 422)),
              tags=["operations"], security=OPS_BEARER)
def list_all_events():
    """Every shop's events running at some point in [from, to) (default: the next 7 days)."""
    start = _query_time("from") or utcnow()
    end = _query_time("to") or service.shifted(start, DEFAULT_HORIZON)
    with resources.current().database.reading() as session:
        events = service.events_between(session, start, end)
        return {"items": [event_json(planned, with_shop=True) for planned in
                          service.with_capacity(session, events, capacity_settings())]}


@blueprint.put("/<int:event_id>/plan")
@require_ops_token
@api.validate(json=RecordedPlan,
              resp=Response(HTTP_200=ShopEventOut, **problems(401, 403, 404, 422)),
              tags=["operations"], security=OPS_BEARER)
def record_plan(event_id: int):
    """The scaler records the replicas it will have ready, and by when."""
    data = json_body()
    with resources.current().database.transaction() as session:
        event = service.record_plan(session, event_id, data)
        audit.record(session, event.merchant_id, None, "events.plan", f"event {event.id}",
                     {"web_replicas": event.planned_web_replicas,
                      "ready_by": data.get("ready_by")}, actor_label="scaler")
        planned = service.with_capacity(session, [event], capacity_settings())[0]
        return event_json(planned, with_shop=True)
