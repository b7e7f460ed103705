"""A shop's settings that shape what shoppers see: for now, gross or net prices.

Plain functions, no Flask: the JSON API and the back-office form both change a shop through
`change_settings`, so they refuse the same input in the same words.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.core.errors import InvalidInput
from shop.core.timeutil import utcnow
from shop.merchants.models import Merchant

SETTING_FIELDS = ("prices_include_vat",)


def settings_json(merchant: Merchant) -> dict[str, Any]:
    return {"shop": merchant.slug, "currency": merchant.currency,
            "prices_include_vat": merchant.prices_include_vat is not False}


def parse_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The settings a PATCH body changes; InvalidInput names the field and the fix."""
    unknown = sorted(set(body) - set(SETTING_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(repr(name)[:60] for name in unknown)}:"
                           f" a shop's settings are {', '.join(SETTING_FIELDS)}",
                           code="unknown_field")
    if not body:
        raise InvalidInput("the body changes nothing: send at least one of "
                           f"{', '.join(SETTING_FIELDS)}", code="empty_change")
    value = body["prices_include_vat"]
    if not isinstance(value, bool):
        raise InvalidInput("'prices_include_vat' must be true (prices shown include VAT) or "
                           f"false (net prices, VAT added at checkout): got {value!r:.40}",
                           code="invalid_setting")
    return {"prices_include_vat": value}


def change_settings(session: Session, merchant: Merchant, changes: dict[str, Any]) -> bool:
    """Apply parsed `changes`; True when something changed.

    Switching between gross and net changes how every product page reads ("incl." or "excl.
    VAT"): the shop's products are marked changed, so cached pages revalidate to the new
    label instead of showing the old one until they expire.
    """
    wanted = changes["prices_include_vat"]
    if merchant.prices_include_vat is wanted:
        return False
    merchant.prices_include_vat = wanted
    session.execute(update(Product).where(Product.merchant_id == merchant.id)
                    .values(updated_at=utcnow()))
    return True
