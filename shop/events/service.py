"""Announced events: create, change, list, delete, and the capacity planned for each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.core import validation
from shop.core.errors import InvalidInput, NotFound
from shop.core.timeutil import parse_rfc3339, rfc3339, utcnow
from shop.events import capacity
from shop.events.models import ShopEvent
from shop.merchants import plans
from shop.merchants.models import Merchant

MAX_DURATION_MIN = 14 * 24 * 60
MAX_PEAK_RPS = 1_000_000
MAX_WEB_REPLICAS = 10_000
MAX_WINDOW = timedelta(days=366)
FIELDS = {"name", "starts_at", "duration_min", "expected_peak_rps"}


@dataclass(frozen=True)
class CapacitySettings:
    pod_max_rps: int
    utilisation: float


@dataclass(frozen=True)
class PlannedEvent:
    event: ShopEvent
    slug: str
    planned_capacity: dict[str, Any]


def ends_at(event: ShopEvent) -> datetime:
    return event.starts_at + timedelta(minutes=event.duration_min)


def window(event: ShopEvent) -> capacity.Window:
    return capacity.Window(event.starts_at, ends_at(event), event.expected_peak_rps, event.id)


def time_field(data: dict[str, Any], field: str) -> datetime:
    try:
        return parse_rfc3339(data.get(field))
    except ValueError as problem:
        raise InvalidInput(f"'{field}' {problem}") from None


def _values(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}: an event has "
                           f"{', '.join(sorted(FIELDS))}")
    values: dict[str, Any] = {}
    if not partial or "name" in data:
        values["name"] = validation.text(data, "name")
    if not partial or "starts_at" in data:
        values["starts_at"] = time_field(data, "starts_at")
    if not partial or "duration_min" in data:
        values["duration_min"] = validation.integer(data, "duration_min", minimum=1,
                                                    maximum=MAX_DURATION_MIN)
    if not partial or "expected_peak_rps" in data:
        values["expected_peak_rps"] = validation.integer(data, "expected_peak_rps", minimum=1,
                                                         maximum=MAX_PEAK_RPS)
    return values


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, held at the first or last representable time instead of overflowing
    (a query may ask about the year 1 or 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return datetime.max if delta > timedelta(0) else datetime.min


def _refuse_past(starts_at: datetime, duration_min: int, now: datetime) -> None:
    if starts_at > datetime.max - timedelta(days=1, minutes=duration_min):
        # Its end, and the day of planning after it, must be a time we can store and compute.
        raise InvalidInput("the event would end after the year 9999: check 'starts_at' "
                           "and 'duration_min'", extra={"field": "starts_at"})
    if starts_at + timedelta(minutes=duration_min) <= now:
        raise InvalidInput("the event would be over already: announce events that are still "
                           "to come (check 'starts_at' and its UTC offset)",
                           code="event_in_past")


def create_event(session: Session, merchant_id: int, slug: str, data: dict[str, Any],
                 now: datetime | None = None) -> ShopEvent:
    values = _values(data, partial=False)
    _refuse_past(values["starts_at"], values["duration_min"], now or utcnow())
    plans.check(session, merchant_id, slug, plans.Limit.EVENTS_PER_MONTH,
                month_of=values["starts_at"])
    event = ShopEvent(merchant_id=merchant_id, **values)
    session.add(event)
    session.flush()
    return event


def get_event(session: Session, merchant_id: int, event_id: int) -> ShopEvent:
    event = session.scalar(select(ShopEvent).where(ShopEvent.id == event_id,
                                                   ShopEvent.merchant_id == merchant_id))
    if event is None:
        raise NotFound(f"the shop has no event {event_id}", code="unknown_event")
    return event


def update_event(session: Session, merchant_id: int, slug: str, event_id: int,
                 data: dict[str, Any], now: datetime | None = None) -> ShopEvent:
    """Change an event; a new time or size drops the scaler's plan, which no longer fits."""
    values = _values(data, partial=True)
    event = get_event(session, merchant_id, event_id)
    starts_at = values.get("starts_at", event.starts_at)
    duration_min = values.get("duration_min", event.duration_min)
    _refuse_past(starts_at, duration_min, now or utcnow())
    if "starts_at" in values and (starts_at.year, starts_at.month) != (
            event.starts_at.year, event.starts_at.month):
        plans.check(session, merchant_id, slug, plans.Limit.EVENTS_PER_MONTH,
                    month_of=starts_at)
    if any(key != "name" and value != getattr(event, key) for key, value in values.items()):
        event.planned_web_replicas = event.plan_ready_by = event.plan_recorded_at = None
    for key, value in values.items():
        setattr(event, key, value)
    session.flush()
    return event


def delete_event(session: Session, merchant_id: int, event_id: int) -> None:
    session.delete(get_event(session, merchant_id, event_id))
    session.flush()


def _overlapping(session: Session, start: datetime, end: datetime) -> list[ShopEvent]:
    """Every shop's events running at some point in [start, end)."""
    earliest_start = shifted(start, -timedelta(minutes=MAX_DURATION_MIN))
    candidates = session.scalars(select(ShopEvent).where(ShopEvent.starts_at < end,
                                                         ShopEvent.starts_at >= earliest_start))
    return [event for event in candidates if ends_at(event) > start]


def planned_capacity(event: ShopEvent, others: list[capacity.Window],
                     settings: CapacitySettings) -> dict[str, Any]:
    guess = capacity.estimate(window(event), others, settings.pod_max_rps,
                              settings.utilisation)
    if event.planned_web_replicas is not None:
        return {"web_replicas": event.planned_web_replicas,
                "ready_by": rfc3339(event.plan_ready_by), "source": "scaler",
                "recorded_at": rfc3339(event.plan_recorded_at), "peak_rps": guess.peak_rps}
    return {"web_replicas": guess.web_replicas, "ready_by": rfc3339(guess.ready_by),
            "source": "estimate", "peak_rps": guess.peak_rps,
            "per_replica_rps": round(settings.pod_max_rps * settings.utilisation, 3)}


def with_capacity(session: Session, events: list[ShopEvent],
                  settings: CapacitySettings) -> list[PlannedEvent]:
    """Each event with the capacity planned for it, counting every shop's overlapping events."""
    if not events:
        return []
    others = [window(other) for other in _overlapping(
        session, min(e.starts_at for e in events), max(ends_at(e) for e in events))]
    slugs = dict(session.execute(select(Merchant.id, Merchant.slug).where(
        Merchant.id.in_({e.merchant_id for e in events}))).all())
    return [PlannedEvent(event, slugs[event.merchant_id],
                         planned_capacity(event, others, settings)) for event in events]


def list_events(session: Session, merchant_id: int) -> list[ShopEvent]:
    return list(session.scalars(select(ShopEvent).where(ShopEvent.merchant_id == merchant_id)
                                .order_by(ShopEvent.starts_at, ShopEvent.id)))


def events_between(session: Session, start: datetime, end: datetime) -> list[ShopEvent]:
    """Every shop's events running at some point in [start, end), for the scaler."""
    if end <= start:
        raise InvalidInput("'to' must be after 'from'")
    if end - start > MAX_WINDOW:
        raise InvalidInput(f"ask for at most {MAX_WINDOW.days} days at a time")
    return sorted(_overlapping(session, start, end), key=lambda e: (e.starts_at, e.id))


def record_plan(session: Session, event_id: int, data: dict[str, Any],
                now: datetime | None = None) -> ShopEvent:
    """The scaler's own plan for an event, which the merchant then sees."""
    unknown = sorted(set(data) - {"web_replicas", "ready_by"})
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}: a plan has web_replicas "
                           "and ready_by")
    replicas = validation.integer(data, "web_replicas", minimum=0, maximum=MAX_WEB_REPLICAS)
    ready_by = time_field(data, "ready_by")
    event = session.get(ShopEvent, event_id)
    if event is None:
        raise NotFound(f"there is no event {event_id}", code="unknown_event")
    event.planned_web_replicas = replicas
    event.plan_ready_by = ready_by
    event.plan_recorded_at = now or utcnow()
    session.flush()
    return event
