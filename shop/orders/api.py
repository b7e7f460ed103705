"""Orders over JSON: the shopper's view of one order, the merchant's list."""

from __future__ import annotations

from flask import Blueprint, request

from shop.catalog.service import parse_limit
from shop.core import resources
from shop.core.http import bearer_token
from shop.core.openapi import BEARER, Response, api
from shop.core.validation import money_json
from shop.fulfilment.booking import DEFAULT_CARRIER_NAME, arrives_before_christmas
from shop.merchants import service as merchants
from shop.orders import service
from shop.orders.models import Order
from shop.orders.schemas import OrderOut, OrderQuery, Orders

blueprint = Blueprint("orders_api", __name__, url_prefix="/api/v1")


def _iso(moment) -> str | None:
    return moment.isoformat() + "Z" if moment else None


def carrier_name(order: Order) -> str | None:
    """The carrier the order ships with; confirmed orders without one use the built-in service."""
    if order.carrier is not None:
        return order.carrier.name
    return DEFAULT_CARRIER_NAME if order.promised_delivery_date else None


def order_json(order: Order) -> dict:
    return {
        "order_id": order.id,
        "status": order.status,
        "email": order.email,
        "shipping_address": order.shipping_address,
        "items": [{"sku": line.sku, "name": line.name, "quantity": line.quantity,
                   "unit_price": money_json(line.unit_price_amount, order.currency)}
                  for line in order.lines],
        "total": money_json(order.total_amount, order.currency),
        "failure_reason": order.failure_reason,
        "created_at": _iso(order.created_at),
        "paid_at": _iso(order.paid_at),
        "confirmed_at": _iso(order.confirmed_at),
        "carrier": carrier_name(order),
        "promised_delivery_date": (order.promised_delivery_date.isoformat()
                                   if order.promised_delivery_date else None),
        "arrives_before_christmas": arrives_before_christmas(order.promised_delivery_date,
                                                             _ordered_on(order)),
        "shipping": shipping_json(order),
        "tax": money_json(order.tax_amount or 0, order.currency),
        # false: unit prices and shipping are net, and `tax` was added in `total`.
        "prices_include_vat": order.prices_include_vat is not False,
    }


def shipping_json(order: Order) -> dict:
    """The shipping paid for; once a worker booked it, the booked carrier and date."""
    promised = order.promised_delivery_date or order.shipping_promised_date
    return {"option": order.shipping_option,
            "price": money_json(order.shipping_amount or 0, order.currency),
            "carrier": carrier_name(order) or order.shipping_carrier,
            "promised_date": promised.isoformat() if promised else None,
            "arrives_before_christmas": arrives_before_christmas(promised, _ordered_on(order))}


def _ordered_on(order: Order):
    return order.created_at.date() if order.created_at else None


@blueprint.get("/orders/<order_id>")
@api.validate(resp=Response(HTTP_200=OrderOut), tags=["orders"], security=BEARER)
def show_order(order_id: str):
    """The shopper's order, opened with the access token checkout returned."""
    token = bearer_token()
    current = resources.current()
    with current.database.reading() as session:
        order = service.order_for_shopper(session, current.settings.secret_key, order_id, token)
        return order_json(order)


@blueprint.get("/shops/<slug>/orders")
@api.validate(query=OrderQuery, resp=Response(HTTP_200=Orders), tags=["orders"],
              security=BEARER)
def list_orders(slug: str):
    """The shop's orders, newest first, optionally of one status; page with `next_cursor`."""
    token = bearer_token()
    status = service.parse_status(request.args.get("status"))
    limit = parse_limit(request.args.get("limit"))
    with resources.current().database.reading() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        items, next_cursor = service.list_orders(session, merchant.id, status, limit=limit,
                                                 after_cursor=request.args.get("cursor"))
        return {"items": [order_json(order) for order in items], "next_cursor": next_cursor}
