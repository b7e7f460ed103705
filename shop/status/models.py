"""Incidents and the updates that tell customers about them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.core.db import Base
from shop.core.timeutil import utcnow


class Incident(Base):
    """Something customers notice; platform-wide when `merchant_id` is None."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_open", "resolved_at", "merchant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # IncidentStatus
    impact: Mapped[str] = mapped_column(String(16))  # ComponentStatus (degraded | outage)
    components: Mapped[list[str]] = mapped_column(JSON)
    eta: Mapped[datetime | None] = mapped_column(nullable=True)
    # "ops" when a person opened it, else "burn_rate:<component>" for the automatic rule.
    source: Mapped[str] = mapped_column(String(64), default="ops")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_update_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)

    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident", order_by="IncidentUpdate.id")


class IncidentUpdate(Base):
    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="updates")
