"""Merchants' outage webhooks over JSON: register, list, delete, read the delivery log."""

from __future__ import annotations

from flask import Blueprint

from shop.core import resources
from shop.core.http import bearer_token, json_body
from shop.core.openapi import BEARER, Response, api, problems
from shop.merchants import service as merchants
from shop.status.times import rfc3339
from shop.webhooks import service
from shop.webhooks.models import WebhookDelivery, WebhookEndpoint
from shop.webhooks.schemas import Deliveries, NewWebhook, RegisteredWebhook, Webhooks

blueprint = Blueprint("webhooks_api", __name__, url_prefix="/api/v1/shops/<slug>/webhooks")


def _endpoint_json(endpoint: WebhookEndpoint) -> dict:
    return {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events),
            "created_at": rfc3339(endpoint.created_at)}


def _delivery_json(delivery: WebhookDelivery) -> dict:
    return {"id": delivery.id, "event_id": delivery.event_id, "event": delivery.event,
            "status": delivery.status, "attempts": delivery.attempts,
            "last_status_code": delivery.last_status_code, "last_error": delivery.last_error,
            "created_at": rfc3339(delivery.created_at),
            "delivered_at": rfc3339(delivery.delivered_at),
            "next_attempt_at": (rfc3339(delivery.next_attempt_at)
                                if delivery.status == "pending" else None)}


@blueprint.post("")
@api.validate(json=NewWebhook,
              resp=Response(HTTP_201=RegisteredWebhook, **problems(401, 403, 422, 429)),
              tags=["status"], security=BEARER)
def register_webhook(slug: str):
    """Register an endpoint for incident events; the signing secret is shown only here."""
    token = bearer_token()
    data = json_body()
    current = resources.current()
    with current.database.transaction() as session:
        merchant, acting = merchants.authorize(session, token, slug)
        service.require_manager(acting)
        endpoint = service.register(session, merchant, data,
                                    allow_private=current.settings.webhook_allow_private)
        return {**_endpoint_json(endpoint), "secret": endpoint.secret}, 201


@blueprint.get("")
@api.validate(resp=Response(HTTP_200=Webhooks, **problems(401, 403, 429)), tags=["status"],
              security=BEARER)
def list_webhooks(slug: str):
    """The shop's endpoints (without their secrets)."""
    token = bearer_token()
    with resources.current().database.transaction() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        return {"items": [_endpoint_json(e) for e in service.endpoints(session, merchant)]}


@blueprint.delete("/<endpoint_id>")
@api.validate(resp=Response(HTTP_204=None, **problems(401, 403, 404, 429)), tags=["status"],
              security=BEARER)
def delete_webhook(slug: str, endpoint_id: str):
    """Stop sending to an endpoint; its delivery log goes with it."""
    token = bearer_token()
    with resources.current().database.transaction() as session:
        merchant, acting = merchants.authorize(session, token, slug)
        service.require_manager(acting)
        service.remove(session, service.endpoint_of(session, merchant, endpoint_id))
    return "", 204


@blueprint.get("/<endpoint_id>/deliveries")
@api.validate(resp=Response(HTTP_200=Deliveries, **problems(401, 403, 404, 429)),
              tags=["status"], security=BEARER)
def list_deliveries(slug: str, endpoint_id: str):
    """The newest deliveries to an endpoint: status, attempts, last answer."""
    token = bearer_token()
    with resources.current().database.transaction() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        endpoint = service.endpoint_of(session, merchant, endpoint_id)
        return {"items": [_delivery_json(d) for d in service.deliveries(session, endpoint)]}
