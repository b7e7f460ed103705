"""The burn-rate check: read the counts, decide per component, open or resolve incidents.

Run periodically by the order worker (`peakshop worker`). Several workers may run it; a
Redis lock lets one evaluate at a time, so a burning component opens one incident.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from sqlalchemy import select

from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.status import burnrate, service, slo_counter
from shop.status.components import Component, ComponentStatus
from shop.status.language import AUTOMATIC_NOTE, AUTOMATIC_RECOVERY_NOTE, automatic_title
from shop.status.models import Incident

log = logging.getLogger(__name__)

LOCK_NAME = "peakshop:slo:evaluation-lock"
STILL_WORKING_NOTE = "It is still going on, and we will tell you as soon as we know more."
WORSE_NOTE = "More requests are failing now than when we first reported this."


def source_of(component: Component) -> str:
    return f"burn_rate:{component.value}"


@dataclass(frozen=True)
class Action:
    component: Component
    verdict: burnrate.Verdict
    incident_id: int | None
    burn_rate: float


def _covered_by_ops(session, component: Component) -> bool:
    """A person already told customers about this component: no second, automatic incident."""
    open_platform = session.scalars(select(Incident).where(
        Incident.resolved_at.is_(None), Incident.merchant_id.is_(None),
        Incident.source == service.OPS))
    return any(component.value in incident.components for incident in open_platform)


def check_component(database: Database, client: redis.Redis, component: Component,
                    now: float) -> Action:
    counts = slo_counter.window_counts(client, component.value, burnrate.windows_needed(),
                                       now=now)
    source = source_of(component)
    with database.reading() as session:
        incident = service.open_automatic(session, source)
        incident_id = incident.id if incident else None
        impact = incident.impact if incident else None
        next_update_due = bool(incident and incident.next_update_at
                               and incident.next_update_at <= utcnow())
        covered = incident is None and _covered_by_ops(session, component)
    decision = burnrate.evaluate(counts, burnrate.OBJECTIVES[component],
                                 incident_open=incident_id is not None)
    if decision.verdict == burnrate.Verdict.OPEN and not covered:
        with database.transaction() as session:
            opened = service.open_incident(session, service.NewIncident(
                title=automatic_title(component.value), components=(component.value,),
                message=AUTOMATIC_NOTE, impact=decision.impact, source=source))
            incident_id = opened.id
        log.warning("opened incident %s: %s burns its error budget %.1fx too fast",
                    incident_id, component.value, decision.burn_rate)
    elif decision.verdict == burnrate.Verdict.RESOLVE:
        with database.transaction() as session:
            service.add_update(session, incident_id, service.NewUpdate(
                message=AUTOMATIC_RECOVERY_NOTE, status="resolved"))
        log.info("resolved incident %s: %s has recovered", incident_id, component.value)
    elif decision.verdict == burnrate.Verdict.KEEP and impact != decision.impact \
            and decision.impact == ComponentStatus.OUTAGE:
        with database.transaction() as session:
            service.add_update(session, incident_id, service.NewUpdate(
                message=WORSE_NOTE, impact=ComponentStatus.OUTAGE))
    elif decision.verdict in (burnrate.Verdict.KEEP, burnrate.Verdict.UNSURE) \
            and next_update_due:
        # Customers were promised an update by now: keep the promise.
        with database.transaction() as session:
            service.add_update(session, incident_id,
                               service.NewUpdate(message=STILL_WORKING_NOTE))
    return Action(component, decision.verdict, incident_id, decision.burn_rate)


def check_burn_rates(database: Database, client: redis.Redis,
                     now: float | None = None) -> list[Action]:
    """One evaluation of every component; [] when another process is evaluating."""
    lock = client.lock(LOCK_NAME, timeout=120, blocking=False)
    if not lock.acquire():
        return []
    try:
        moment = time.time() if now is None else now
        return [check_component(database, client, component, moment) for component in Component]
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # expired while we worked: nothing to release
            pass
