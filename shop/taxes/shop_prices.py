"""How a shop's prices are shown: gross (VAT included) or net (VAT added at checkout).

One place answers it for every page and JSON that shows a price, so a product, a cart, a
shipping option and the order all speak the same convention (docs/vat.md).
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from shop.core.validation import money_json
from shop.merchants.models import Merchant
from shop.taxes import vat

# Built once: on add-to-cart, the hottest write of a peak, a statement built per request
# costs more CPU than the primary-key look-up it runs. Parameters: merchant_id.
_MERCHANTS = Merchant.__table__
PRICES_INCLUDE_VAT = select(_MERCHANTS.c.prices_include_vat).where(
    _MERCHANTS.c.id == bindparam("merchant_id"))


def prices_include_vat(session: Session, merchant_id: int) -> bool:
    """The shop's setting; a shop that is gone counts as gross, the default."""
    value = session.connection().scalar(PRICES_INCLUDE_VAT, {"merchant_id": merchant_id})
    return value is not False


def lines_tax_json(line_totals: list[int], currency: str, country: str,
                   prices_include_vat: bool) -> dict:
    """The VAT of a cart's lines for `country`, and the lines' total with it (shipping is
    chosen at checkout, so it is not in either)."""
    taxed = vat.order_total(line_totals, 0, country, prices_include_vat)
    return {"country": country, "vat_rate_percent": str(vat.rate_for(country)),
            "tax": money_json(taxed.tax_amount, currency),
            "total_with_tax": money_json(taxed.total_amount, currency)}
