"""Shipping options a shopper can choose before paying: carrier, price, promised date.

Prices come from the carrier's flat rate for the destination's zone (domestic, EU, world),
free from an order value the merchant sets. The promised date is planned by
`booking.promise`, the very planner the worker books with at confirmation, from the
carrier's current bookings, daily capacity, cut-off hour and working days (weekends and
holidays count neither for dispatch nor for transit).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from shop.core.errors import InvalidInput
from shop.fulfilment.booking import (
    CHRISTMAS_EVE,
    DEFAULT_CARRIER,
    arrives_before_christmas,
    bookings_from,
    carrier_option,
    promise,
)
from shop.fulfilment.models import Carrier
from shop.fulfilment.working_days import DEFAULT_CALENDAR, WorkingCalendar
from shop.taxes.vat import EU_STANDARD_RATES

STANDARD_OPTION_ID = "standard"
CARRIER_OPTION_PREFIX = "carrier-"


class Zone(StrEnum):
    DOMESTIC = "domestic"
    EU = "eu"
    WORLD = "world"


@dataclass(frozen=True)
class ShippingOption:
    id: str
    carrier: str
    carrier_id: int | None
    price_amount: int
    currency: str
    promised_date: date
    # In December before Christmas: the last day an order placed before the cut-off still
    # arrives by 24 December with this carrier, capacity permitting; else None.
    last_order_date_for_christmas: date | None
    quoted_on: date | None = None  # the day the shopper asks: whose Christmas it is

    @property
    def arrives_before_christmas(self) -> bool:
        return bool(arrives_before_christmas(self.promised_date, self.quoted_on))


def zone_of(origin: str, destination: str) -> Zone:
    """The rate zone of a parcel; no side effects."""
    if origin == destination:
        return Zone.DOMESTIC
    if origin in EU_STANDARD_RATES and destination in EU_STANDARD_RATES:
        return Zone.EU
    return Zone.WORLD


def price_for(carrier: Carrier, zone: Zone, order_value: int) -> int:
    """The flat rate of `zone`, or 0 once the order reaches the free-shipping threshold."""
    if carrier.free_shipping_over is not None and order_value >= carrier.free_shipping_over:
        return 0
    return {Zone.DOMESTIC: carrier.domestic_rate, Zone.EU: carrier.eu_rate,
            Zone.WORLD: carrier.world_rate}[zone]


def last_order_date_for_christmas(transit_days: int, today: date,
                                  calendar: WorkingCalendar = DEFAULT_CALENDAR) -> date | None:
    """In December, up to that day: the last day the carrier dispatches a parcel that still
    arrives by 24 December, counting only its working days; no side effects."""
    if today.month != 12:
        return None
    last_day = calendar.last_dispatch_day(date(today.year, *CHRISTMAS_EVE), transit_days)
    return None if today > last_day else last_day


def option_id_for(carrier_id: int | None) -> str:
    return STANDARD_OPTION_ID if carrier_id is None else f"{CARRIER_OPTION_PREFIX}{carrier_id}"


def carrier_id_of(option_id: str | None) -> int | None:
    """The carrier an option id names (None for the built-in service or no choice)."""
    if option_id and option_id.startswith(CARRIER_OPTION_PREFIX):
        digits = option_id[len(CARRIER_OPTION_PREFIX):]
        if digits.isdigit() and len(digits) < 19:
            return int(digits)
    return None


# The merchant's carriers that are up and have room, preferred first, as Core rows (built
# once: checkout asks on every order). Parameters: merchant_id.
CARRIERS = Carrier.__table__
USABLE_CARRIERS = (select(CARRIERS)
                   .where(CARRIERS.c.merchant_id == bindparam("merchant_id"),
                          CARRIERS.c.is_down.is_(False), CARRIERS.c.daily_capacity > 0)
                   .order_by(CARRIERS.c.priority, CARRIERS.c.id))


def shipping_options(session: Session, merchant_id: int, country: str, order_value: int,
                     currency: str, now: datetime) -> list[ShippingOption]:
    """Every way the merchant can ship an order of `order_value` to `country`, preferred first.

    Carriers that are down or have no capacity are not offered; a merchant without any gets
    the built-in standard shipping, free.
    """
    rows = list(session.connection().execute(USABLE_CARRIERS, {"merchant_id": merchant_id}))
    return options_from(session, rows, country, order_value, currency, now)


def options_from(session: Session, carriers: list, country: str, order_value: int,
                 currency: str, now: datetime) -> list[ShippingOption]:
    """`shipping_options` for carrier rows read already (the columns of `carriers`, usable
    ones only, preferred first); reads their bookings when there are any."""
    today = now.date()
    if not carriers:
        return [_standard_option(today, now.hour, currency)]
    booked = bookings_from(session, [row.id for row in carriers], today)
    options = []
    for row in carriers:
        carrier = carrier_option(row)
        slot = promise(carrier, booked, today, now.hour)
        options.append(ShippingOption(
            option_id_for(row.id), row.name, row.id,
            price_for(row, zone_of(row.origin_country, country), order_value), currency,
            slot.promised_delivery_date,
            last_order_date_for_christmas(row.transit_days, today, carrier.calendar), today))
    return options


@functools.lru_cache(maxsize=16)
def _standard_option(today: date, hour: int, currency: str) -> ShippingOption:
    """The built-in service's one option, free: the same for every order of the same hour
    (its dates depend on nothing else), so worked out once an hour, not for every checkout
    of a shop without carriers."""
    slot = promise(DEFAULT_CARRIER, {}, today, hour)
    return ShippingOption(STANDARD_OPTION_ID, DEFAULT_CARRIER.name, None, 0, currency,
                          slot.promised_delivery_date,
                          last_order_date_for_christmas(DEFAULT_CARRIER.transit_days, today),
                          today)


def choose_option(options: list[ShippingOption], option_id: str | None) -> ShippingOption:
    """The option the shopper chose, or the first (preferred) one when they chose none."""
    if option_id is None:
        return options[0]
    for option in options:
        if option.id == option_id:
            return option
    raise InvalidInput(f"'shipping_option' {option_id[:40]!r} is not offered for this cart and "
                       f"country: choose one of {', '.join(o.id for o in options)} (GET "
                       ".../shipping-options?country=XX lists them)",
                       code="unknown_shipping_option")
