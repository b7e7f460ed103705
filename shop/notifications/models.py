"""The mail outbox: every e-mail is a row first, so a provider outage delays mail, loses none."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop.core.db import Base
from shop.core.timeutil import utcnow


class OutgoingMail(Base):
    __tablename__ = "outgoing_mail"
    __table_args__ = (
        # One confirmation per order, however often a message is redelivered.
        UniqueConstraint("order_id", "kind", name="uq_outgoing_mail_order_kind"),
        Index("ix_outgoing_mail_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # order_confirmation
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sent
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
