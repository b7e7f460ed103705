"""What an order costs: its lines, the shipping the shopper chose, and the VAT.

A shop's prices are VAT-inclusive (selling to consumers, the default: VAT never adds to the
total, the order records how much of it is VAT) or net (VAT by destination is added on
lines and shipping). Either way the rates are the destination's (see shop.taxes.vat).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shop.cart.service import PricedLine
from shop.core.errors import InvalidInput
from shop.fulfilment import shipping
from shop.taxes import vat

MAX_OPTION_ID = 32


@dataclass(frozen=True)
class OrderPricing:
    lines_amount: int
    shipping: shipping.ShippingOption
    tax_amount: int
    total_amount: int
    prices_include_vat: bool

    def order_columns(self) -> dict[str, Any]:
        """The Order columns this pricing fills in, besides the total."""
        return {"shipping_amount": self.shipping.price_amount, "tax_amount": self.tax_amount,
                "prices_include_vat": self.prices_include_vat,
                "shipping_option": self.shipping.id, "shipping_carrier": self.shipping.carrier,
                "shipping_promised_date": self.shipping.promised_date}


def parse_option_id(data: dict[str, Any]) -> str | None:
    """The optional `shipping_option` of a checkout body."""
    value = data.get("shipping_option")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_OPTION_ID:
        raise InvalidInput("'shipping_option' must be the id of one of the cart's shipping "
                           "options, as listed by GET /api/v1/carts/{cart_id}/shipping-options",
                           code="unknown_shipping_option")
    return value.strip()


def price_order(connection: Connection, carriers: list, lines: list[PricedLine], country: str,
                option_id: str | None, now: datetime,
                prices_include_vat: bool = True) -> OrderPricing:
    """Price a cart for `country` with the chosen shipping option (422 if not offered), in
    the shop's convention: gross prices, or net prices with the VAT added. `carriers`: the
    shop's usable carriers as rows, preferred first (`shipping.USABLE_CARRIERS`); their
    bookings are read on `connection`, in its transaction."""
    line_totals = [line.line_total for line in lines]
    lines_amount = sum(line_totals)
    currency = lines[0].product.currency if lines else "EUR"
    if carriers:
        with Session(bind=connection) as session:
            options = shipping.options_from(session, carriers, country, lines_amount,
                                            currency, now)
    else:  # the default carrier: nothing to read
        options = shipping.options_from(None, carriers, country, lines_amount, currency, now)
    chosen = shipping.choose_option(options, option_id)
    taxed = vat.order_total(line_totals, chosen.price_amount, country, prices_include_vat)
    return OrderPricing(lines_amount, chosen, taxed.tax_amount, taxed.total_amount,
                        prices_include_vat)
