"""A merchant's carriers: add, list, change (including marking one down for the day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.core import validation
from shop.core.errors import Conflict, InvalidInput, NotFound
from shop.core.timeutil import utcnow
from shop.fulfilment import countries, rebooking, working_days
from shop.fulfilment.booking import bookings_from
from shop.fulfilment.models import Carrier
from shop.merchants.models import Merchant
from shop.orders.links import OrderLinks

MAX_DAILY_CAPACITY = 1_000_000
MAX_TRANSIT_DAYS = 90
MAX_PRIORITY = 1000
MAX_RATE = 10**9
RATE_FIELDS = ("domestic_rate", "eu_rate", "world_rate")
FIELDS = ("name", "daily_capacity", "transit_days", "priority", "is_down", "origin_country",
          *RATE_FIELDS, "free_shipping_over", "cutoff_hour", "holidays", "origin_subdivision",
          "public_holidays")


@dataclass(frozen=True)
class CarrierView:
    carrier: Carrier
    booked_today: int


def _is_down(data: dict[str, Any], field: str = "is_down") -> bool | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidInput(f"'{field}' must be true or false: got {str(value)[:40]!r}")
    return value


def _rate(data: dict[str, Any], field: str, shop_currency: str) -> int | None:
    """A shipping price in the shop currency's minor units (490 is EUR 4.90): money as the
    API writes it, {"amount": 490, "currency": "EUR"}, or the bare amount."""
    if not isinstance(data.get(field), dict):
        return validation.integer(data, field, minimum=0, maximum=MAX_RATE, required=False)
    amount, currency = validation.money(data, field, default_currency=shop_currency)
    if currency != shop_currency:
        # A carrier's prices are added to orders, which are paid in the shop's currency.
        raise InvalidInput(f"this shop sells in {shop_currency}: give '{field}' in "
                           f"{shop_currency}, got {currency}", code="currency_mismatch",
                           extra={"field": field, "shop_currency": shop_currency})
    if amount > MAX_RATE:
        raise InvalidInput(f"'{field}' must be at most {MAX_RATE} (minor units): got {amount}",
                           extra={"field": field})
    return amount


def _shop_currency(session: Session, merchant_id: int) -> str:
    return session.scalar(select(Merchant.currency).where(Merchant.id == merchant_id)) or "EUR"


def parse_carrier(data: dict[str, Any], *, partial: bool,
                  shop_currency: str = "EUR") -> dict[str, Any]:
    """The carrier fields present in `data`, validated; all but optional ones unless `partial`."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}: a carrier has "
                           f"{', '.join(FIELDS)}")
    values = {
        "name": validation.text(data, "name", max_length=100, required=not partial),
        "daily_capacity": validation.integer(data, "daily_capacity", minimum=1,
                                             maximum=MAX_DAILY_CAPACITY, required=not partial),
        "transit_days": validation.integer(data, "transit_days", minimum=0,
                                           maximum=MAX_TRANSIT_DAYS, required=False),
        "priority": validation.integer(data, "priority", minimum=0, maximum=MAX_PRIORITY,
                                       required=False),
        "is_down": _is_down(data),
        "origin_country": (countries.parse_country(data["origin_country"], "origin_country")
                           if data.get("origin_country") is not None else None),
        **{field: _rate(data, field, shop_currency)
           for field in (*RATE_FIELDS, "free_shipping_over")},
        "cutoff_hour": validation.integer(data, "cutoff_hour", minimum=0, maximum=24,
                                          required=False),
        "public_holidays": _is_down(data, "public_holidays"),
    }
    present = {field: value for field, value in values.items() if value is not None}
    if "holidays" in data:  # null: no days of its own
        present["holidays"] = _holidays(data["holidays"])
    if "origin_subdivision" in data:  # checked against the country by _check_subdivision
        present["origin_subdivision"] = data["origin_subdivision"]
    if partial and not present:
        raise InvalidInput(f"send at least one of {', '.join(FIELDS)}")
    return present


def _holidays(value: object) -> list[str] | None:
    if value is None:
        return None
    try:
        return list(working_days.parse_holidays(value))
    except ValueError as problem:
        raise InvalidInput(str(problem), extra={"field": "holidays"}) from None


def _check_subdivision(values: dict[str, Any], current_country: str,
                       current_subdivision: str | None) -> None:
    """Put the region in its "DE-BY" form, checked against the carrier's country (the one
    sent, else the one it has): a region of another country would silently mean nothing."""
    country = values.get("origin_country", current_country)
    subdivision = values.get("origin_subdivision", current_subdivision)
    if subdivision is None:
        return
    try:
        code = working_days.parse_subdivision(subdivision, country)
    except ValueError as problem:
        detail = str(problem)
        if "origin_subdivision" not in values:  # the country changed under the region
            detail = (f"'origin_subdivision' {subdivision!r} is not a region of {country}: send "
                      "the new country's region with it, or \"origin_subdivision\": null")
        raise InvalidInput(detail, extra={"field": "origin_subdivision"}) from None
    values["origin_subdivision"] = f"{country}-{code}"


def _name_taken(session: Session, merchant_id: int, name: str, other_than: int | None) -> bool:
    statement = select(Carrier.id).where(Carrier.merchant_id == merchant_id,
                                         Carrier.name == name)
    if other_than is not None:
        statement = statement.where(Carrier.id != other_than)
    return session.scalar(statement) is not None


def _conflict(name: str) -> Conflict:
    return Conflict(f"a carrier named {name!r} already exists: change it with PATCH or pick "
                    "another name", code="carrier_exists")


def create_carrier(session: Session, merchant_id: int, data: dict[str, Any]) -> Carrier:
    """Add a carrier to the merchant's shipping options."""
    values = parse_carrier(data, partial=False,
                           shop_currency=_shop_currency(session, merchant_id))
    _check_subdivision(values, Carrier.origin_country.default.arg, None)
    if _name_taken(session, merchant_id, values["name"], None):
        raise _conflict(values["name"])
    carrier = Carrier(merchant_id=merchant_id, **{"transit_days": 2, "priority": 0,
                                                  "is_down": False, **values})
    session.add(carrier)
    session.flush()
    return carrier


def get_carrier(session: Session, merchant_id: int, carrier_id: int) -> Carrier:
    carrier = session.get(Carrier, carrier_id)
    if carrier is None or carrier.merchant_id != merchant_id:
        raise NotFound(f"this shop has no carrier {carrier_id}: list them with GET .../carriers",
                       code="unknown_carrier")
    return carrier


def update_carrier(session: Session, merchant_id: int, carrier_id: int,
                   data: dict[str, Any], links: OrderLinks | None = None) -> Carrier:
    """Change a carrier's details, capacity, preference, or whether it is down (then its
    waiting orders are rebooked and their shoppers mailed, with `links` to their orders)."""
    carrier = get_carrier(session, merchant_id, carrier_id)
    values = parse_carrier(data, partial=True, shop_currency=_shop_currency(session, merchant_id))
    _check_subdivision(values, carrier.origin_country, carrier.origin_subdivision)
    if "name" in values and _name_taken(session, merchant_id, values["name"], carrier.id):
        raise _conflict(values["name"])
    going_down = values.get("is_down") is True and not carrier.is_down
    for field, value in values.items():
        setattr(carrier, field, value)
    session.flush()
    if going_down:
        rebooking.rebook_orders_of(session, carrier, utcnow(), links)
    return carrier


def list_carriers(session: Session, merchant_id: int, today: date) -> list[CarrierView]:
    """The merchant's carriers, preferred first, with the parcels booked for today."""
    carriers = list(session.scalars(select(Carrier).where(Carrier.merchant_id == merchant_id)
                                    .order_by(Carrier.priority, Carrier.id)))
    booked = bookings_from(session, [carrier.id for carrier in carriers], today)
    return [CarrierView(carrier, booked.get((carrier.id, today), 0)) for carrier in carriers]


def booked_today(session: Session, carrier: Carrier, today: date) -> int:
    return bookings_from(session, [carrier.id], today).get((carrier.id, today), 0)
