"""Announced events and the capacity the scaler recorded for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.core.db import Base
from shop.core.timeutil import utcnow


class ShopEvent(Base):
    """A peak a merchant expects; times are naive UTC like every stored time."""

    __tablename__ = "shop_events"
    __table_args__ = (Index("ix_shop_events_starts_at", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    duration_min: Mapped[int]
    expected_peak_rps: Mapped[int]
    # Set by the scaler through PUT /api/v1/ops/events/{id}/plan; cleared when the merchant
    # changes the event's time or size, since the plan no longer fits it.
    planned_web_replicas: Mapped[int | None] = mapped_column(nullable=True)
    plan_ready_by: Mapped[datetime | None] = mapped_column(nullable=True)
    plan_recorded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
