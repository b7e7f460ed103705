"""How a shop's prices are shown: gross (VAT included) or net (VAT added at checkout).

One place answers it for every page and JSON that shows a price, so a product, a cart, a
shipping option and the order all speak the same convention (docs/vat.md).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.core.validation import money_json
from shop.merchants.models import Merchant
from shop.taxes import vat

INCLUDED_LABEL = "incl. VAT"
EXCLUDED_LABEL = "excl. VAT"


def prices_include_vat(session: Session, merchant_id: int) -> bool:
    """The shop's setting; a shop that is gone counts as gross, the default."""
    value = session.scalar(select(Merchant.prices_include_vat)
                           .where(Merchant.id == merchant_id))
    return value is not False


def label(prices_include_vat: bool) -> str:
    """What stands beside a price: "incl. VAT" or "excl. VAT"."""
    return INCLUDED_LABEL if prices_include_vat else EXCLUDED_LABEL


def lines_tax_json(line_totals: list[int], currency: str, country: str,
                   prices_include_vat: bool) -> dict:
    """The VAT of a cart's lines for `country`, and the lines' total with it (shipping is
    chosen at checkout, so it is not in either)."""
    taxed = vat.order_total(line_totals, 0, country, prices_include_vat)
    return {"country": country, "vat_rate_percent": str(vat.rate_for(country)),
            "tax": money_json(taxed.tax_amount, currency),
            "total_with_tax": money_json(taxed.total_amount, currency)}
