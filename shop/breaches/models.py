"""The register of personal-data breaches (GDPR art. 33(5)): every one, notified or not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.core.db import Base
from shop.core.timeutil import utcnow


class Breach(Base):
    __tablename__ = "security_breaches"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # The 72 hours of art. 33(1) run from the moment we became aware of it.
    detected_at: Mapped[datetime]
    data_concerned: Mapped[str] = mapped_column(Text)
    subjects_affected: Mapped[int | None] = mapped_column(nullable=True)
    decision: Mapped[str] = mapped_column(String(16), default="pending")  # BreachDecision
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    measures: Mapped[str] = mapped_column(Text, default="")
    notified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    delay_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
