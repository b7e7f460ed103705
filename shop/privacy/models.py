"""The log of every erasure and anonymisation, kept as proof of what was done and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.core.db import Base
from shop.core.timeutil import utcnow


class PersonalDataErasure(Base):
    """One erasure: a shopper's request through their merchant, or the retention sweep.

    The shopper is recorded by the SHA-256 of their e-mail, never the address itself: the
    log proves an erasure to someone who knows the address without keeping it.
    """

    __tablename__ = "personal_data_erasures"
    __table_args__ = (Index("ix_personal_data_erasures_merchant", "merchant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), nullable=True)
    reason: Mapped[str] = mapped_column(String(16))  # request | retention
    subject_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("collaborators.id"),
                                                     nullable=True)
    orders_anonymised: Mapped[int] = mapped_column(default=0)
    orders_kept_open: Mapped[int] = mapped_column(default=0)
    mails_erased: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
