"""The breach register: every personal-data breach, its 72-hour clock and what was decided.

GDPR art. 33(1): notify the supervisory authority within 72 hours of becoming aware of a
breach, unless it is unlikely to result in a risk to people; later notifications carry the
reasons for the delay. Art. 33(5): document every breach, notified or not, so the authority
can check. This module keeps that record and flags what is overdue.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.breaches.models import Breach
from shop.core import validation
from shop.core.errors import InvalidInput, NotFound
from shop.core.timeutil import utcnow
from shop.status.times import parse_rfc3339, rfc3339

NOTIFICATION_WINDOW = timedelta(hours=72)
MAX_TEXT = 8000


class BreachDecision(StrEnum):
    PENDING = "pending"  # still assessing the risk
    NOTIFY = "notify"  # the authority must be told
    NOT_REQUIRED = "not_required"  # unlikely to result in a risk; documented only


@dataclass(frozen=True)
class Clock:
    deadline_at: datetime
    overdue: bool  # the deadline passed and the authority has not been told
    notified_late: bool
    hours_left: float | None


def clock(detected_at: datetime, notified_at: datetime | None, decision: str,
          now: datetime) -> Clock:
    """The 72-hour clock of one breach; no side effects."""
    deadline = detected_at + NOTIFICATION_WINDOW
    needs_notice = decision != BreachDecision.NOT_REQUIRED
    overdue = needs_notice and notified_at is None and now > deadline
    late = notified_at is not None and notified_at > deadline
    hours_left = (None if notified_at is not None or not needs_notice
                  else round((deadline - now).total_seconds() / 3600, 1))
    return Clock(deadline, overdue, late, hours_left)


FIELDS = ("title", "description", "detected_at", "data_concerned", "subjects_affected",
          "decision", "decision_reason", "measures", "notified_at", "delay_reason")


def _apply(breach: Breach, data: dict[str, Any], now: datetime, *, creating: bool) -> None:
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}: use {', '.join(FIELDS)}")
    if creating or "title" in data:
        breach.title = validation.text(data, "title")
    if creating or "data_concerned" in data:
        breach.data_concerned = validation.text(data, "data_concerned", max_length=MAX_TEXT)
    for field in ("description", "decision_reason", "measures", "delay_reason"):
        if field in data:
            setattr(breach, field, validation.text(data, field, max_length=MAX_TEXT,
                                                   required=False, default="") or "")
    if creating or "detected_at" in data:
        detected = parse_rfc3339(data.get("detected_at"), "detected_at")
        if detected > now + timedelta(minutes=5):
            raise InvalidInput("'detected_at' is in the future: give the moment we became "
                               "aware of the breach")
        breach.detected_at = detected
    if "subjects_affected" in data:
        breach.subjects_affected = validation.integer(data, "subjects_affected", minimum=0,
                                                      maximum=10**10, required=False)
    if "decision" in data:
        decision = data["decision"]
        if not isinstance(decision, str) or decision not in set(BreachDecision):
            raise InvalidInput(f"'decision' must be one of {', '.join(BreachDecision)}: "
                               f"got {decision!r}")
        breach.decision = decision
    if "notified_at" in data:
        breach.notified_at = (None if data["notified_at"] is None
                              else parse_rfc3339(data["notified_at"], "notified_at"))
    _check(breach)


def _check(breach: Breach) -> None:
    if breach.decision == BreachDecision.NOT_REQUIRED and not breach.decision_reason:
        raise InvalidInput("'decision_reason' is required with decision 'not_required': "
                           "art. 33(5) asks why the authority was not told")
    if breach.notified_at is not None:
        if breach.notified_at < breach.detected_at:
            raise InvalidInput("'notified_at' is before 'detected_at': check both times")
        if breach.decision == BreachDecision.PENDING:
            breach.decision = BreachDecision.NOTIFY
        late = breach.notified_at > breach.detected_at + NOTIFICATION_WINDOW
        if late and not breach.delay_reason:
            raise InvalidInput("'delay_reason' is required: the notification came more than "
                               "72 hours after detection, and art. 33(1) asks for the reasons")


def create(session: Session, data: dict[str, Any], now: datetime | None = None) -> Breach:
    now = now or utcnow()
    breach = Breach(description="", decision=BreachDecision.PENDING, decision_reason="",
                    measures="", delay_reason="", created_at=now, updated_at=now)
    _apply(breach, data, now, creating=True)
    session.add(breach)
    session.flush()
    return breach


def breach_by_id(session: Session, breach_id: str) -> Breach:
    number = validation.row_id(breach_id)
    breach = None if number is None else session.get(Breach, number)
    if breach is None:
        raise NotFound(f"there is no breach {breach_id!r} in the register")
    return breach


def change(session: Session, breach: Breach, data: dict[str, Any],
           now: datetime | None = None) -> Breach:
    now = now or utcnow()
    _apply(breach, data, now, creating=False)
    breach.updated_at = now
    session.flush()
    return breach


def register(session: Session) -> list[Breach]:
    return list(session.scalars(select(Breach).order_by(Breach.detected_at.desc(),
                                                        Breach.id.desc())))


def breach_json(breach: Breach, now: datetime | None = None) -> dict[str, Any]:
    state = clock(breach.detected_at, breach.notified_at, breach.decision, now or utcnow())
    return {"id": breach.id, "title": breach.title, "description": breach.description,
            "detected_at": rfc3339(breach.detected_at), "deadline_at": rfc3339(state.deadline_at),
            "data_concerned": breach.data_concerned,
            "subjects_affected": breach.subjects_affected, "decision": breach.decision,
            "decision_reason": breach.decision_reason, "measures": breach.measures,
            "notified_at": rfc3339(breach.notified_at), "delay_reason": breach.delay_reason,
            "overdue": state.overdue, "notified_late": state.notified_late,
            "hours_left": state.hours_left, "created_at": rfc3339(breach.created_at),
            "updated_at": rfc3339(breach.updated_at)}


EXPORT_COLUMNS = ("id", "title", "detected_at", "deadline_at", "notified_at", "overdue",
                  "notified_late", "decision", "decision_reason", "data_concerned",
                  "subjects_affected", "measures", "delay_reason", "description")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting with these as a formula (CSV injection).
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def export_csv(documents: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for document in documents:
        writer.writerow([_cell(document[column]) for column in EXPORT_COLUMNS])
    return buffer.getvalue()
