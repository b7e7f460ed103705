"""Booking dispatch slots: the preferred carrier with room today, else the next, else a later day.

Days are the carrier's working days (`working_days`): nothing is dispatched or delivered on a
weekend or one of its holidays, so transit days count working days too.

The plan is a pure function of the carriers and their bookings. Applying it is one conditional
UPDATE per (carrier, day), `booked + n <= capacity`, which the database evaluates atomically:
two workers racing for the last slot cannot both get it. The loser re-reads and re-plans.

Every worker's batch wants the same few carrier days, and a booked day stays locked until the
batch commits. So the worker may plan first and book last (`plan_slots`, then
`take_bookings` just before its commit), holding a day for a statement or two instead of the
whole batch; when the room went meanwhile, `take_bookings` raises `RoomGone` and the worker
books again the careful way (`book_slots`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shop.fulfilment.models import Carrier, CarrierDay
from shop.fulfilment.working_days import DEFAULT_CALENDAR, WorkingCalendar

log = logging.getLogger(__name__)

# A merchant without a usable carrier still ships: with this built-in, unlimited service.
DEFAULT_CARRIER_NAME = "Standard shipping"
DEFAULT_TRANSIT_DAYS = 2
# How far the dispatch date may roll forward when every carrier is booked out.
HORIZON_DAYS = 366
# Re-plans after losing a race for a slot; each one books at least what is left elsewhere.
MAX_REPLANS = 50
CHRISTMAS_EVE = (12, 24)


@dataclass(frozen=True)
class CarrierOption:
    """A carrier as the planner sees it; `id` None is the built-in default service."""

    id: int | None
    name: str
    daily_capacity: int | None  # None: unlimited
    transit_days: int
    cutoff_hour: int = 24  # parcels handed over at or after this hour (UTC) go the next day
    calendar: WorkingCalendar = DEFAULT_CALENDAR  # days it neither sends nor delivers


DEFAULT_CARRIER = CarrierOption(None, DEFAULT_CARRIER_NAME, None, DEFAULT_TRANSIT_DAYS)


@dataclass(frozen=True)
class Booking:
    """`slots` parcels handed to `carrier` for dispatch on `day`."""

    carrier: CarrierOption
    day: date
    slots: int


@dataclass(frozen=True)
class Slot:
    """One order's place in a carrier's day, and the delivery date it promises."""

    carrier_id: int | None
    carrier_name: str
    dispatch_day: date
    transit_days: int
    calendar: WorkingCalendar = DEFAULT_CALENDAR

    @property
    def promised_delivery_date(self) -> date:
        return self.calendar.add_working_days(self.dispatch_day, self.transit_days)


def arrives_before_christmas(promised: date | None,
                             ordered_on: date | None = None) -> bool | None:
    """Whether a parcel promised for `promised` is there by Christmas Eve of the year it was
    ordered (`ordered_on`; ordered 29 December, promised 3 January: no), else of its year."""
    if promised is None:
        return None
    return promised <= date((ordered_on or promised).year, *CHRISTMAS_EVE)


def plan_bookings(carriers: list[CarrierOption], booked: dict[tuple[int, date], int],
                  count: int, today: date, horizon_days: int = HORIZON_DAYS, *,
                  hour: int = 0) -> list[Booking]:
    """Spread `count` parcels over carriers (in preference order) and days; no side effects.

    Each day, the carriers are filled in the order given before the next day is opened.
    A carrier whose daily cut-off is past at `hour` (UTC, 0-23) takes nothing `today`, and
    none takes anything on a day it does not work (weekends, its holidays).
    Without carriers, or beyond the horizon, parcels go to the built-in default service.
    The checkout's shipping quote and the worker's booking both plan with this function,
    so the date a shopper is promised is the date the booking would give.
    """
    if count <= 0:
        return []
    if not carriers:
        return [Booking(DEFAULT_CARRIER, DEFAULT_CARRIER.calendar.next_working_day(today), count)]
    plan: list[Booking] = []
    remaining = count
    for offset in range(horizon_days):
        day = today + timedelta(days=offset)
        for carrier in carriers:
            if offset == 0 and hour >= carrier.cutoff_hour:
                continue
            if not carrier.calendar.is_working_day(day):
                continue
            if carrier.daily_capacity is None:
                return [*plan, Booking(carrier, day, remaining)]
            room = carrier.daily_capacity - booked.get((carrier.id, day), 0)
            take = min(room, remaining)
            if take > 0:
                plan.append(Booking(carrier, day, take))
                remaining -= take
                if remaining == 0:
                    return plan
    beyond = DEFAULT_CARRIER.calendar.next_working_day(today + timedelta(days=horizon_days))
    return [*plan, Booking(DEFAULT_CARRIER, beyond, remaining)]


def usable_carriers(session: Session, merchant_id: int) -> list[CarrierOption]:
    """The merchant's carriers that are up and have capacity, preferred first."""
    # Core rows (the columns by the same names) rather than ORM entities: every batch of
    # the order worker asks, and the planner only reads them.
    carriers = Carrier.__table__
    rows = session.execute(select(carriers)
                           .where(carriers.c.merchant_id == merchant_id,
                                  carriers.c.is_down.is_(False), carriers.c.daily_capacity > 0)
                           .order_by(carriers.c.priority, carriers.c.id))
    return [carrier_option(row) for row in rows]


def carrier_option(row: Carrier) -> CarrierOption:
    return CarrierOption(row.id, row.name, row.daily_capacity, row.transit_days,
                         row.cutoff_hour, calendar_of(row))


def calendar_of(row: Carrier) -> WorkingCalendar:
    """The public holidays of where the carrier leaves from, and its own days."""
    subdivision = row.origin_subdivision.partition("-")[2] if row.origin_subdivision else None
    return WorkingCalendar(row.origin_country, subdivision or None, tuple(row.holidays or ()),
                           row.public_holidays is not False)


def promise(carrier: CarrierOption, booked: dict[tuple[int, date], int], today: date,
            hour: int) -> Slot:
    """Where one more parcel for `carrier` would go, and its delivery date; no side effects."""
    booking = plan_bookings([carrier], booked, 1, today, hour=hour)[0]
    return Slot(booking.carrier.id, booking.carrier.name, booking.day,
                booking.carrier.transit_days, booking.carrier.calendar)


def bookings_from(session: Session, carrier_ids: list[int], today: date
                  ) -> dict[tuple[int, date], int]:
    """Parcels booked per (carrier, day), from `today` on."""
    if not carrier_ids:
        return {}
    rows = session.execute(select(CarrierDay.carrier_id, CarrierDay.day, CarrierDay.booked)
                           .where(CarrierDay.carrier_id.in_(carrier_ids),
                                  CarrierDay.day >= today))
    return {(row.carrier_id, row.day): row.booked for row in rows}


def book_slots(session: Session, merchant_id: int, count: int, today: date, *,
               hour: int = 0, preferred_carrier_id: int | None = None) -> list[Slot]:
    """Book `count` parcels of one merchant, in the caller's transaction; one Slot each.

    The carrier the shopper chose at checkout (`preferred_carrier_id`) is tried first.
    """
    carriers = usable_carriers(session, merchant_id)
    carriers.sort(key=lambda carrier: carrier.id != preferred_carrier_id)
    slots: list[Slot] = []
    for _ in range(MAX_REPLANS):
        remaining = count - len(slots)
        if remaining == 0:
            return slots
        booked = bookings_from(session, [c.id for c in carriers if c.id is not None], today)
        for booking in plan_bookings(carriers, booked, remaining, today, hour=hour):
            if not _take(session, booking):
                break  # someone else took the room meanwhile: read again and re-plan
            slot = Slot(booking.carrier.id, booking.carrier.name, booking.day,
                        booking.carrier.transit_days, booking.carrier.calendar)
            slots.extend([slot] * booking.slots)
    remaining = count - len(slots)
    if remaining:
        log.warning("carriers of merchant %d stayed contended; %d parcels go to %s",
                    merchant_id, remaining, DEFAULT_CARRIER_NAME)
        fallback = DEFAULT_CARRIER.calendar.next_working_day(today)
        slots.extend([Slot(None, DEFAULT_CARRIER_NAME, fallback, DEFAULT_TRANSIT_DAYS)]
                     * remaining)
    return slots


class RoomGone(Exception):
    """A carrier day filled up between planning and booking: plan again with `book_slots`."""


def plan_slots(carriers: list[CarrierOption], booked: dict[tuple[int, date], int], count: int,
               today: date, *, hour: int = 0, preferred_carrier_id: int | None = None
               ) -> tuple[list[Slot], list[Booking], dict[tuple[int, date], int]]:
    """`count` parcels planned like `book_slots` would book them, without booking; no side
    effects. Returns one Slot per parcel, the bookings to take, and `booked` with them added
    (for the next group of the same batch)."""
    preferred_first = sorted(carriers, key=lambda carrier: carrier.id != preferred_carrier_id)
    plan = plan_bookings(preferred_first, booked, count, today, hour=hour)
    after = dict(booked)
    slots: list[Slot] = []
    for booking in plan:
        if booking.carrier.id is not None:
            key = (booking.carrier.id, booking.day)
            after[key] = after.get(key, 0) + booking.slots
        slots.extend([Slot(booking.carrier.id, booking.carrier.name, booking.day,
                           booking.carrier.transit_days, booking.carrier.calendar)]
                     * booking.slots)
    return slots, plan, after


def take_bookings(session: Session, bookings: list[Booking]) -> None:
    """Book planned slots in the caller's transaction: one conditional UPDATE per carrier day,
    in (carrier, day) order like every batch; `RoomGone` when a day has no room left for them
    (the caller rolls back what it wrote with the plan)."""
    totals: dict[tuple[int, date], Booking] = {}
    for booking in bookings:
        if booking.carrier.id is None or booking.carrier.daily_capacity is None:
            continue  # unlimited: nothing to count
        key = (booking.carrier.id, booking.day)
        earlier = totals.get(key)
        totals[key] = Booking(booking.carrier, booking.day,
                              booking.slots + (earlier.slots if earlier else 0))
    for key in sorted(totals):
        if not _take(session, totals[key]):
            raise RoomGone(f"carrier {key[0]} has no room for {totals[key].slots} more "
                           f"parcels on {key[1].isoformat()}")


def _take(session: Session, booking: Booking) -> bool:
    """Book the slots with one conditional statement; False when the room is gone."""
    carrier = booking.carrier
    if carrier.id is None or carrier.daily_capacity is None:
        return True  # unlimited: nothing to count
    days = CarrierDay.__table__
    taken = session.execute(
        update(days)
        .where(days.c.carrier_id == carrier.id, days.c.day == booking.day,
               days.c.booked + booking.slots <= carrier.daily_capacity)
        .values(booked=days.c.booked + booking.slots))
    if taken.rowcount == 1:
        return True
    # No row yet for that day (or no room): open the day, unless a racer opened it first.
    # RETURNING tells reliably whether the row went in, on every driver.
    opened = session.execute(_insert_ignoring_conflict(session)
                             .values(carrier_id=carrier.id, day=booking.day,
                                     booked=booking.slots)
                             .returning(days.c.carrier_id))
    return opened.first() is not None


def _insert_ignoring_conflict(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(CarrierDay.__table__).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(CarrierDay.__table__).on_conflict_do_nothing()
    return insert(CarrierDay.__table__)
