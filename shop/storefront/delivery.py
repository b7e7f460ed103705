"""What the cart and checkout pages show about delivery: options, dates, VAT (included in
gross prices, or added to net ones).

Built from the same services the JSON API uses (shipping options, VAT), so a page and the
API never disagree about a price or a date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.cart.service import PricedLine
from shop.core.errors import InvalidInput
from shop.fulfilment import countries, shipping
from shop.fulfilment.models import Carrier
from shop.taxes import vat

FALLBACK_COUNTRY = "DE"


@dataclass(frozen=True)
class OptionView:
    option: shipping.ShippingOption
    total_amount: int  # what the shopper pays with this option, VAT included or added
    tax_amount: int
    selected: bool


@dataclass(frozen=True)
class DeliveryView:
    country: str
    country_name: str
    vat_rate: str  # "20" or "25.5"
    subtotal_amount: int
    currency: str
    options: list[OptionView]
    prices_include_vat: bool = True  # False: totals and tax_amount have the VAT added

    @property
    def chosen(self) -> OptionView:
        return next(view for view in self.options if view.selected)


def default_country(session: Session, merchant_id: int, *candidates: str | None) -> str:
    """The first valid country of `candidates`, else where the shop ships from."""
    for candidate in candidates:
        try:
            return countries.parse_country(candidate)
        except InvalidInput:
            continue
    origin = session.scalar(select(Carrier.origin_country)
                            .where(Carrier.merchant_id == merchant_id)
                            .order_by(Carrier.priority, Carrier.id).limit(1))
    return origin or FALLBACK_COUNTRY


def delivery_view(session: Session, merchant_id: int, lines: list[PricedLine], country: str,
                  chosen_id: str | None, now: datetime,
                  prices_include_vat: bool = True) -> DeliveryView:
    """Every shipping option for the cart to `country`, each with the order total it makes
    (net prices: with the VAT added, as checkout will charge it)."""
    line_totals = [line.line_total for line in lines]
    subtotal = sum(line_totals)
    currency = lines[0].product.currency if lines else "EUR"
    options = shipping.shipping_options(session, merchant_id, country, subtotal, currency, now)
    if chosen_id not in {option.id for option in options}:
        chosen_id = options[0].id
    return DeliveryView(
        country, countries.country_names()[country], str(vat.rate_for(country)), subtotal,
        currency,
        [_option_view(option, line_totals, country, prices_include_vat, option.id == chosen_id)
         for option in options],
        prices_include_vat)


def _option_view(option: shipping.ShippingOption, line_totals: list[int], country: str,
                 prices_include_vat: bool, selected: bool) -> OptionView:
    taxed = vat.order_total(line_totals, option.price_amount, country, prices_include_vat)
    return OptionView(option, taxed.total_amount, taxed.tax_amount, selected)
