"""Payment-side records: the webhook events already applied."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shop.core.db import Base
from shop.core.timeutil import utcnow


class ProcessedEvent(Base):
    """A gateway event already applied; a replay finds its id here and changes nothing."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    gateway: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
