"""What an order costs: its lines, the shipping the shopper chose, and the VAT included.

Prices are VAT-inclusive (a shop selling to consumers), so VAT never adds to the total: the
order records how much of its total is VAT, by destination (see shop.taxes.vat).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

    @property
    def total_amount(self) -> int:
        return self.lines_amount + self.shipping.price_amount

    def order_columns(self) -> dict[str, Any]:
        """The Order columns this pricing fills in, besides the total."""
        return {"shipping_amount": self.shipping.price_amount, "tax_amount": self.tax_amount,
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


def price_order(session: Session, merchant_id: int, lines: list[PricedLine], country: str,
                option_id: str | None, now: datetime) -> OrderPricing:
    """Price a cart for `country` with the chosen shipping option (422 if not offered)."""
    line_totals = [line.line_total for line in lines]
    lines_amount = sum(line_totals)
    currency = lines[0].product.currency if lines else "EUR"
    options = shipping.shipping_options(session, merchant_id, country, lines_amount, currency,
                                        now)
    chosen = shipping.choose_option(options, option_id)
    return OrderPricing(lines_amount, chosen,
                        vat.order_vat(line_totals, chosen.price_amount, country))
