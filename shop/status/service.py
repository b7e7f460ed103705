"""Incidents: open, update, resolve, and the status of the platform or of one shop.

Plain functions over a `Session`; the ops API, the CLI and the burn-rate rule all come
through here, so every incident gets the same customer-first text and the same webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from shop.core import validation
from shop.core.errors import Conflict, InvalidInput, NotFound
from shop.core.timeutil import utcnow
from shop.merchants.models import Merchant
from shop.status.components import (
    Component,
    ComponentStatus,
    IncidentStatus,
    component_statuses,
    effective_impact,
    worst,
)
from shop.status.language import compose_update
from shop.status.models import Incident, IncidentUpdate
from shop.status.times import parse_rfc3339, rfc3339
from shop.webhooks import outbox

# Customers are promised a new word at least this often while an incident is open.
UPDATE_CADENCE = timedelta(minutes=30)
# Resolved incidents stay on the status page this long, so people see what happened.
RECENT = timedelta(days=3)
MAX_MESSAGE = 4000
OPS = "ops"


@dataclass(frozen=True)
class NewIncident:
    title: str
    components: tuple[str, ...]
    message: str
    impact: str = ComponentStatus.DEGRADED
    eta: datetime | None = None
    shop: str | None = None
    verbatim: bool = False
    source: str = OPS


@dataclass(frozen=True)
class NewUpdate:
    message: str
    status: str | None = None
    eta: datetime | None = None
    eta_given: bool = False  # "eta": null clears it; no "eta" keeps it
    verbatim: bool = False
    impact: str | None = None  # None keeps it


def _components(value: Any) -> tuple[str, ...]:
    known = ", ".join(f"'{c}'" for c in Component)
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"'components' must be a non-empty list of: {known}")
    names: list[str] = []
    for item in value:
        if not isinstance(item, str) or item not in set(Component):
            raise InvalidInput(f"'components' holds {item!r}, which is not a component: "
                               f"use {known}")
        if item not in names:
            names.append(item)
    return tuple(names)


def _boolean(data: dict[str, Any], field: str) -> bool:
    value = data.get(field, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"'{field}' must be true or false: got {value!r}")
    return value


def _future_eta(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    eta = parse_rfc3339(value, "eta")
    if eta < now - timedelta(minutes=1):
        raise InvalidInput(f"'eta' is in the past ({rfc3339(eta)}): customers would read a "
                           "promise already broken; give a time to come, or leave it out")
    return eta


def _impact(value: Any) -> str:
    if value not in (ComponentStatus.DEGRADED, ComponentStatus.OUTAGE):
        raise InvalidInput(f"'impact' must be 'degraded' or 'outage': got {value!r}")
    return str(value)


def read_new_incident(data: dict[str, Any], now: datetime | None = None) -> NewIncident:
    """A `NewIncident` from the ops API's JSON, or a 422 naming the field."""
    now = now or utcnow()
    impact = _impact(data.get("impact", ComponentStatus.DEGRADED))
    return NewIncident(
        title=validation.text(data, "title"),
        components=_components(data.get("components")),
        message=validation.text(data, "message", max_length=MAX_MESSAGE),
        impact=impact,
        eta=_future_eta(data.get("eta"), now),
        shop=validation.text(data, "shop", max_length=64, required=False),
        verbatim=_boolean(data, "verbatim"))


def read_update(data: dict[str, Any], now: datetime | None = None) -> NewUpdate:
    """A `NewUpdate` from the ops API's JSON, or a 422 naming the field."""
    now = now or utcnow()
    status = data.get("status")
    if status is not None and (not isinstance(status, str) or status not in set(IncidentStatus)):
        raise InvalidInput(f"'status' must be one of {', '.join(IncidentStatus)}: "
                           f"got {status!r}")
    impact = data.get("impact")
    return NewUpdate(message=validation.text(data, "message", max_length=MAX_MESSAGE),
                     status=status, eta=_future_eta(data.get("eta"), now),
                     eta_given="eta" in data, verbatim=_boolean(data, "verbatim"),
                     impact=None if impact is None else _impact(impact))


def _shop_id(session: Session, slug: str | None) -> int | None:
    if slug is None:
        return None
    merchant_id = session.scalar(select(Merchant.id).where(Merchant.slug == slug))
    if merchant_id is None:
        raise InvalidInput(f"'shop' names no shop: got {slug!r}; leave it out for a "
                           "platform-wide incident")
    return merchant_id


def _text_for(incident: Incident, note: str, verbatim: bool) -> str:
    if verbatim:
        return note
    return compose_update(status=incident.status, components=incident.components,
                          impact=incident.impact, eta=incident.eta,
                          next_update_at=incident.next_update_at, note=note)


def open_incident(session: Session, new: NewIncident, now: datetime | None = None) -> Incident:
    """Open an incident, post its first update and queue its webhooks, in one transaction."""
    now = now or utcnow()
    incident = Incident(merchant_id=_shop_id(session, new.shop), title=new.title,
                        status=IncidentStatus.INVESTIGATING, impact=new.impact,
                        components=list(new.components), eta=new.eta, source=new.source,
                        started_at=now, next_update_at=now + UPDATE_CADENCE)
    session.add(incident)
    session.flush()
    session.add(IncidentUpdate(incident_id=incident.id, status=incident.status, at=now,
                               message=_text_for(incident, new.message, new.verbatim)))
    session.flush()
    outbox.announce(session, incident, "incident.opened", incident_json(incident), now)
    return incident


def incident_by_id(session: Session, incident_id: str | int, *, lock: bool = False) -> Incident:
    number = validation.row_id(incident_id)
    if number is None:
        raise NotFound(f"there is no incident {incident_id!r}")
    statement = select(Incident).where(Incident.id == number)
    if lock:
        statement = statement.with_for_update()
    incident = session.scalar(statement)
    if incident is None:
        raise NotFound(f"there is no incident {incident_id!r}: list them with "
                       "GET /api/v1/status")
    return incident


def add_update(session: Session, incident_id: str | int, update: NewUpdate,
               now: datetime | None = None) -> IncidentUpdate:
    """Post an update (maybe a new status, a new ETA) and queue its webhooks."""
    now = now or utcnow()
    incident = incident_by_id(session, incident_id, lock=True)
    if incident.status == IncidentStatus.RESOLVED:
        raise Conflict(f"incident {incident.id} is already resolved: open a new one if the "
                       "trouble is back", code="incident_resolved")
    if update.status:
        incident.status = update.status
    if update.eta_given:
        incident.eta = update.eta
    if update.impact:
        incident.impact = update.impact
    resolved = incident.status == IncidentStatus.RESOLVED
    incident.resolved_at = now if resolved else None
    incident.next_update_at = None if resolved else now + UPDATE_CADENCE
    row = IncidentUpdate(incident_id=incident.id, status=incident.status, at=now,
                         message=_text_for(incident, update.message, update.verbatim))
    session.add(row)
    session.flush()
    session.refresh(incident)
    event = "incident.resolved" if resolved else "incident.updated"
    outbox.announce(session, incident, event, incident_json(incident), now)
    return row


def open_automatic(session: Session, source: str) -> Incident | None:
    """The open incident the burn-rate rule opened under `source`, if any."""
    return session.scalar(select(Incident).where(Incident.source == source,
                                                 Incident.resolved_at.is_(None)))


def incident_json(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "title": incident.title, "status": incident.status,
            "impact": incident.impact, "components": list(incident.components),
            "started_at": rfc3339(incident.started_at), "eta": rfc3339(incident.eta),
            "next_update_at": rfc3339(incident.next_update_at),
            "resolved_at": rfc3339(incident.resolved_at),
            "scope": "shop" if incident.merchant_id else "platform",
            "updates": [{"at": rfc3339(u.at), "status": u.status, "message": u.message}
                        for u in reversed(incident.updates)]}


def status_json(session: Session, merchant_id: int | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """The status document: overall, per component, open and recent incidents.

    The platform page shows platform-wide incidents; a shop's page adds the shop's own.
    """
    now = now or utcnow()
    scope = (Incident.merchant_id.is_(None) if merchant_id is None
             else or_(Incident.merchant_id.is_(None), Incident.merchant_id == merchant_id))
    incidents = list(session.scalars(
        select(Incident).options(selectinload(Incident.updates))
        .where(scope, or_(Incident.resolved_at.is_(None), Incident.resolved_at >= now - RECENT))
        .order_by(Incident.started_at.desc(), Incident.id.desc()).limit(50)))
    open_ones = [i for i in incidents if i.resolved_at is None]
    statuses = component_statuses((i.components, effective_impact(i.impact, i.status))
                                  for i in open_ones)
    return {"status": worst(statuses.values()).value,
            "components": [{"name": c.value, "status": s.value} for c, s in statuses.items()],
            "incidents": [incident_json(i) for i in open_ones],
            "recent": [incident_json(i) for i in incidents if i.resolved_at is not None],
            "updated_at": rfc3339(now)}
