"""Carts over JSON."""

from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy.orm import Session

from shop.cart import service
from shop.cart.schemas import CartOut, CartQuery, NewCart, SetQuantity
from shop.core import resources
from shop.core.http import json_body
from shop.core.openapi import Response, api
from shop.core.security import limited_per_client
from shop.core.validation import money_json
from shop.fulfilment import countries
from shop.merchants import service as merchants
from shop.taxes import shop_prices

blueprint = Blueprint("cart_api", __name__, url_prefix="/api/v1")


def cart_json(cart: service.Cart, lines: list[service.PricedLine],
              shop_currency: str = "EUR", *, prices_include_vat: bool = True,
              country: str | None = None) -> dict:
    """The cart as JSON; an empty cart's total is 0 in the shop's currency. Prices and the
    total are in the shop's convention (`prices_include_vat`); with a destination
    `country`, the VAT of the lines and their total with it."""
    currency = lines[0].product.currency if lines else shop_currency
    taxes = {} if country is None else shop_prices.lines_tax_json(
        [line.line_total for line in lines], currency, country, prices_include_vat)
    return {
        "cart_id": cart.cart_id,
        "items": [{"sku": line.product.sku, "name": line.product.name,
                   "quantity": line.quantity,
                   "unit_price": money_json(line.product.price_amount, line.product.currency),
                   "line_total": money_json(line.line_total, line.product.currency)}
                  for line in lines],
        "total": money_json(sum(line.line_total for line in lines), currency),
        "prices_include_vat": prices_include_vat,
        **taxes,
    }


@blueprint.post("/shops/<slug>/carts")
@limited_per_client
@api.validate(resp=Response(HTTP_201=NewCart), tags=["cart"])
def create_cart(slug: str):
    """Open an empty cart in the shop."""
    current = resources.current()
    with current.database.reading() as session:
        merchant = merchants.shop_by_slug(session, slug)
    cart_id = service.create_cart(current.redis, merchant.id, current.settings.cart_ttl_s)
    return {"cart_id": cart_id}, 201


@blueprint.get("/carts/<cart_id>")
@api.validate(query=CartQuery, resp=Response(HTTP_200=CartOut), tags=["cart"])
def show_cart(cart_id: str):
    """The cart's lines at today's prices, its total and, given a country, its VAT."""
    country = request.args.get("country")
    if country is not None:
        country = countries.parse_country(country, "country")
    current = resources.current()
    cart = service.load_cart(current.redis, cart_id)
    with current.database.reading() as session:
        lines = service.price_lines(session, cart)
        return cart_json(cart, lines, _currency_if_empty(session, cart, lines),
                         prices_include_vat=shop_prices.prices_include_vat(session,
                                                                           cart.merchant_id),
                         country=country)


@blueprint.put("/carts/<cart_id>/items/<sku>")
@api.validate(json=SetQuantity, resp=Response(HTTP_200=CartOut), tags=["cart"])
def set_item(cart_id: str, sku: str):
    """Set how many of a product the cart holds (0 removes it)."""
    data = json_body()
    return set_item_answer(resources.current(), cart_id, sku, data.get("quantity"))


def set_item_answer(current: resources.Resources, cart_id: str, sku: str,
                    quantity: object) -> dict:
    """The cart as JSON after setting `quantity` of `sku`: what `set_item` answers, and
    what `shop.cart.early` answers for the plain requests it takes before Flask."""
    quantity = service.parse_quantity(quantity)
    cart, lines, gross = service.set_quantity(current.redis, current.database, cart_id, sku,
                                              quantity, current.settings.cart_ttl_s,
                                              max_quantity=current.settings.max_line_quantity)
    if lines:
        return cart_json(cart, lines, prices_include_vat=gross)
    with current.database.reading() as session:
        return cart_json(cart, lines, _currency_if_empty(session, cart, lines),
                         prices_include_vat=gross)


def _currency_if_empty(session: Session, cart: service.Cart,
                       lines: list[service.PricedLine]) -> str:
    """Only an empty cart needs the shop's currency (a line carries its own)."""
    return lines[0].product.currency if lines else service.shop_currency(session,
                                                                         cart.merchant_id)
