"""Shipping options over JSON: what a cart would cost to ship, and when it would arrive."""

from __future__ import annotations

from flask import Blueprint, request

from shop.cart import service as carts
from shop.core import resources
from shop.core.openapi import Response, api, problems
from shop.core.timeutil import utcnow
from shop.core.validation import money_json
from shop.fulfilment import countries, shipping
from shop.fulfilment.schemas import ShippingOptions, ShippingQuery
from shop.taxes import shop_prices, vat

blueprint = Blueprint("shipping_api", __name__, url_prefix="/api/v1")


def option_json(option: shipping.ShippingOption, country: str,
                prices_include_vat: bool = True) -> dict:
    """An option priced like the shop's products: gross, or net with its VAT added at
    checkout (`tax`); `tax_included` is the VAT inside `price` (0 when net)."""
    last_day = option.last_order_date_for_christmas
    tax = vat.amount_vat(option.price_amount, vat.rate_for(country), prices_include_vat)
    return {"id": option.id, "carrier": option.carrier,
            "price": money_json(option.price_amount, option.currency),
            "price_includes_vat": prices_include_vat,
            "tax": money_json(tax, option.currency),
            "tax_included": money_json(tax if prices_include_vat else 0, option.currency),
            "promised_date": option.promised_date.isoformat(),
            "arrives_before_christmas": option.arrives_before_christmas,
            "last_order_date_for_christmas": last_day.isoformat() if last_day else None}


@blueprint.get("/carts/<cart_id>/shipping-options")
@api.validate(query=ShippingQuery, resp=Response(HTTP_200=ShippingOptions, **problems(404, 422)),
              tags=["fulfilment"])
def list_shipping_options(cart_id: str):
    """The ways the cart can ship to `country`, with price and promised delivery date."""
    country = countries.parse_country(request.args.get("country"), "country")
    current = resources.current()
    cart = carts.load_cart(current.redis, cart_id)
    with current.database.reading() as session:
        lines = carts.price_lines(session, cart)
        currency = lines[0].product.currency if lines else "EUR"
        options = shipping.shipping_options(session, cart.merchant_id, country,
                                            sum(line.line_total for line in lines), currency,
                                            utcnow())
        gross = shop_prices.prices_include_vat(session, cart.merchant_id)
    return {"country": country, "vat_rate_percent": str(vat.rate_for(country)),
            "prices_include_vat": gross,
            "items": [option_json(option, country, gross) for option in options]}
