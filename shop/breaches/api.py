"""The breach register over the operators' API (Bearer PEAKSHOP_OPS_TOKEN)."""

from __future__ import annotations

from flask import Blueprint, json, request
from flask import Response as HttpResponse

from shop.breaches import service
from shop.breaches.schemas import (
    EXPORT_MEDIA,
    BreachChanges,
    Breaches,
    BreachOut,
    ExportQuery,
    NewBreach,
)
from shop.core import resources
from shop.core.errors import InvalidInput
from shop.core.http import json_body
from shop.core.openapi import OPS_BEARER, Response, api, declare_media, problems
from shop.core.ops_auth import require_ops_token
from shop.core.timeutil import utcnow

blueprint = Blueprint("breaches_api", __name__, url_prefix="/api/v1/ops/breaches")


@blueprint.post("")
@require_ops_token
@api.validate(json=NewBreach, resp=Response(HTTP_201=BreachOut, **problems(401, 403, 422)),
              tags=["operations"], security=OPS_BEARER)
def record_breach():
    """Record a breach; its 72-hour clock starts at `detected_at`."""
    data = json_body()
    with resources.current().database.transaction() as session:
        return service.breach_json(service.create(session, data)), 201


@blueprint.patch("/<breach_id>")
@require_ops_token
@api.validate(json=BreachChanges,
              resp=Response(HTTP_200=BreachOut, **problems(401, 403, 404, 422)),
              tags=["operations"], security=OPS_BEARER)
def change_breach(breach_id: str):
    """Record what was learnt or decided: decision, notification, measures."""
    data = json_body()
    with resources.current().database.transaction() as session:
        breach = service.breach_by_id(session, breach_id)
        return service.breach_json(service.change(session, breach, data))


@blueprint.get("")
@require_ops_token
@api.validate(resp=Response(HTTP_200=Breaches, **problems(401, 403)), tags=["operations"],
              security=OPS_BEARER)
def list_breaches():
    """The whole register, newest first, with the overdue ones flagged."""
    with resources.current().database.reading() as session:
        items = [service.breach_json(b) for b in service.register(session)]
    return {"items": items, "overdue": sum(1 for item in items if item["overdue"])}


@blueprint.get("/<breach_id>")
@require_ops_token
@api.validate(resp=Response(HTTP_200=BreachOut, **problems(401, 403, 404)),
              tags=["operations"], security=OPS_BEARER)
def show_breach(breach_id: str):
    """One breach of the register."""
    with resources.current().database.reading() as session:
        return service.breach_json(service.breach_by_id(session, breach_id))


@blueprint.get("/export")
@require_ops_token
@declare_media(responses={200: EXPORT_MEDIA})
@api.validate(query=ExportQuery,
              resp=Response(HTTP_200=(None, "The register as CSV or JSON"),
                            **problems(401, 403, 422)),
              tags=["operations"], security=OPS_BEARER)
def export_register():
    """The register for the supervisory authority, as CSV (default) or JSON."""
    export_format = request.args.get("format", "csv")
    if export_format not in ("csv", "json"):
        raise InvalidInput(f"'format' must be csv or json: got {export_format!r}")
    with resources.current().database.reading() as session:
        items = [service.breach_json(b) for b in service.register(session)]
    stamp = utcnow().strftime("%Y%m%dT%H%MZ")
    if export_format == "json":
        body, mimetype = json.dumps({"exported_at": stamp, "items": items}), "application/json"
    else:
        body, mimetype = service.export_csv(items), "text/csv"
    response = HttpResponse(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (f'attachment; filename="breach-register-{stamp}.'
                                               f'{export_format}"')
    return response
