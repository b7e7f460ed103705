"""The audit log: who changed what in a company, newest first, paged with a cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.service import decode_cursor, encode_cursor
from shop.merchants.models import AuditEntry
from shop.merchants.service import Acting

# Never written to the log, whatever the request carried.
SECRET_FIELDS = frozenset({"password", "token", "secret", "card", "payment"})
MAX_DETAIL_CHARS = 2000


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    next_cursor: str | None


def redact(value: Any) -> Any:
    """`value` with secrets replaced and long text cut, fit for the log."""
    if isinstance(value, dict):
        return {key: "[redacted]" if str(key).lower() in SECRET_FIELDS else redact(item)
                for key, item in list(value.items())[:50]}
    if isinstance(value, list):
        return [redact(item) for item in value[:50]]
    if isinstance(value, str) and len(value) > MAX_DETAIL_CHARS:
        return value[:MAX_DETAIL_CHARS] + "…"
    return value


def record(session: Session, merchant_id: int, actor: Acting | None, action: str,
           target: str, details: dict[str, Any] | None = None, *,
           actor_label: str | None = None) -> AuditEntry:
    entry = AuditEntry(merchant_id=merchant_id,
                       actor_person_id=actor.person_id if actor else None,
                       actor=actor.email if actor else (actor_label or "platform"),
                       action=action, target=target[:300], details=redact(details or {}))
    session.add(entry)
    return entry


def page(session: Session, merchant_id: int, *, limit: int, cursor: str | None) -> AuditPage:
    statement = select(AuditEntry).where(AuditEntry.merchant_id == merchant_id)
    if cursor:
        statement = statement.where(AuditEntry.id < decode_cursor(cursor))
    rows = list(session.scalars(statement.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    items = rows[:limit]
    return AuditPage(items, encode_cursor(items[-1].id) if len(rows) > limit else None)
