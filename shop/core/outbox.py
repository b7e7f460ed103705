"""What the mail outbox and the webhook outbox share: rows written with the change they
announce, claimed by a lease, retried with a capped doubling backoff.

A row type takes part by having `id`, `status` ("pending" while due), `attempts`,
`next_attempt_at` and `last_error` columns. Claiming is a conditional UPDATE: of two workers
claiming at once only one matches each row, and a worker that dies mid-send leaves the lease
to run out, after which the row is due again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from shop.core.db import Database

PENDING, FAILED = "pending", "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a row is retried while its receiver fails."""

    base_s: float
    max_s: float
    max_attempts: int
    # A claimed row belongs to its sender for this long; then anyone may try again.
    lease_s: float

    def backoff_s(self, attempts: int) -> float:
        """Delay before the next try after `attempts` failed ones: doubling, capped."""
        return min(self.max_s, self.base_s * 2 ** max(0, attempts - 1))


def _due(model: Any, now: datetime):
    return select(model.id).where(model.status == PENDING, model.next_attempt_at <= now)


def any_due(database: Database, model: Any, now: datetime) -> bool:
    """Look before locking: on SQLite a write transaction blocks every other writer."""
    with database.reading() as session:
        return session.scalar(_due(model, now).limit(1)) is not None


def claim_due(session: Session, model: Any, now: datetime, limit: int, lease_s: float,
              *returning: Any) -> list[Row]:
    """Lease up to `limit` due rows, oldest first, counting the attempt; the rows' `returning`
    columns. Rows another sender took meanwhile are skipped."""
    due = list(session.scalars(_due(model, now).order_by(model.next_attempt_at, model.id)
                               .limit(limit)))
    if not due:
        return []
    # The status and time are checked again by the UPDATE itself.
    return list(session.execute(
        update(model)
        .where(model.id.in_(due), model.status == PENDING, model.next_attempt_at <= now)
        .values(attempts=model.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s))
        .returning(*returning)
        .execution_options(synchronize_session=False)).all())


def failure_values(attempts: int, error: str, now: datetime,
                   policy: RetryPolicy) -> tuple[dict[str, Any], bool]:
    """The columns of a row whose `attempts`-th try failed, and whether it was given up."""
    values: dict[str, Any] = {
        "last_error": error[:2000],
        "next_attempt_at": now + timedelta(seconds=policy.backoff_s(attempts))}
    gave_up = attempts >= policy.max_attempts
    if gave_up:
        values["status"] = FAILED
    return values, gave_up
