"""Checkout over JSON."""

from __future__ import annotations

from flask import Blueprint, request

from shop.checkout import service
from shop.checkout.rules import Limits
from shop.checkout.schemas import CheckoutBody, CheckoutHeaders, Placed
from shop.core import resources
from shop.core.http import json_body
from shop.core.openapi import Response, api
from shop.core.validation import money_json
from shop.orders.service import access_token

blueprint = Blueprint("checkout_api", __name__, url_prefix="/api/v1")


@blueprint.post("/carts/<cart_id>/checkout")
@api.validate(json=CheckoutBody, headers=CheckoutHeaders, resp=Response(HTTP_201=Placed),
              tags=["checkout"])
def checkout(cart_id: str):
    """Reserve the cart's stock, take payment and place the order."""
    body, headers = checkout_answer(resources.current(), cart_id,
                                    request.headers.get("Idempotency-Key"), json_body())
    return body, 201, headers


def checkout_answer(current: resources.Resources, cart_id: str, idempotency_key: str | None,
                    data: dict) -> tuple[dict, dict[str, str]]:
    """The placed order as JSON and the answer's extra headers: what `checkout` answers,
    and what `shop.checkout.early` answers for the plain requests it takes before Flask."""
    key = service.parse_idempotency_key(idempotency_key)
    checkout_request = service.parse_request(data, current.gateway)
    result = service.checkout(current.database, current.redis, current.gateway,
                              cart_id=cart_id, request=checkout_request, idempotency_key=key,
                              limits=Limits.from_settings(current.settings))
    order = result.order
    body = {"order_id": order.id,
            "access_token": access_token(current.settings.secret_key, order.id),
            "status": order.status,
            "total": money_json(order.total_amount, order.currency)}
    if order.failure_reason:
        body["failure_reason"] = order.failure_reason
    if result.client_secret:
        body["payment"] = {"client_secret": result.client_secret}
    return body, ({"Idempotent-Replayed": "true"} if result.replayed else {})
