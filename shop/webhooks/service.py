"""Merchants register webhook endpoints and read what was delivered to them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shop.core import validation
from shop.core.errors import Forbidden, InvalidInput, NotFound
from shop.merchants.models import Collaborator, Merchant
from shop.webhooks import signing
from shop.webhooks.models import WebhookDelivery, WebhookEndpoint
from shop.webhooks.outbox import EVENTS
from shop.webhooks.ssrf import TargetRefused, check_target

MAX_ENDPOINTS_PER_SHOP = 10
DELIVERY_LOG_LIMIT = 100
# Roles that may change where the shop's data is sent (a "manager" exists once roles grow).
MANAGING_ROLES = ("owner", "manager")


def _events(value: Any) -> list[str]:
    if value is None:
        return list(EVENTS)
    known = ", ".join(EVENTS)
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"'events' must be a non-empty list of: {known}")
    chosen: list[str] = []
    for item in value:
        if not isinstance(item, str) or item not in EVENTS:
            raise InvalidInput(f"'events' holds {item!r}, which is not an event: use {known}")
        if item not in chosen:
            chosen.append(item)
    return chosen


def require_manager(collaborator: Collaborator) -> None:
    if collaborator.role not in MANAGING_ROLES:
        raise Forbidden(f"a {collaborator.role} cannot change the shop's webhooks: ask an "
                        "owner or a manager")


def register(session: Session, merchant: Merchant, data: dict[str, Any], *,
             allow_private: bool) -> WebhookEndpoint:
    """Register an endpoint after the SSRF check; its secret is in the returned row."""
    events = _events(data.get("events"))
    try:
        url = check_target(data.get("url"), allow_private=allow_private)
    except TargetRefused as refused:
        raise InvalidInput(str(refused), code="invalid_webhook_url") from None
    count = len(list(session.scalars(select(WebhookEndpoint.id)
                                     .where(WebhookEndpoint.merchant_id == merchant.id))))
    if count >= MAX_ENDPOINTS_PER_SHOP:
        raise InvalidInput(f"a shop has at most {MAX_ENDPOINTS_PER_SHOP} webhook endpoints: "
                           "delete one first", code="too_many_webhooks")
    endpoint = WebhookEndpoint(merchant_id=merchant.id, url=url, events=events,
                               secret=signing.new_secret())
    session.add(endpoint)
    session.flush()
    return endpoint


def endpoints(session: Session, merchant: Merchant) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint)
                                .where(WebhookEndpoint.merchant_id == merchant.id)
                                .order_by(WebhookEndpoint.id)))


def endpoint_of(session: Session, merchant: Merchant, endpoint_id: str) -> WebhookEndpoint:
    """The shop's endpoint; another shop's looks exactly like a missing one."""
    number = validation.row_id(endpoint_id)
    endpoint = None if number is None else session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == number, WebhookEndpoint.merchant_id == merchant.id))
    if endpoint is None:
        raise NotFound(f"this shop has no webhook {endpoint_id!r}: list them with "
                       f"GET /api/v1/shops/{merchant.slug}/webhooks")
    return endpoint


def remove(session: Session, endpoint: WebhookEndpoint) -> None:
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)


def deliveries(session: Session, endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    """The newest deliveries first."""
    return list(session.scalars(select(WebhookDelivery)
                                .where(WebhookDelivery.endpoint_id == endpoint.id)
                                .order_by(WebhookDelivery.id.desc())
                                .limit(DELIVERY_LOG_LIMIT)))
