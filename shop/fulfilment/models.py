"""Carriers that ship a merchant's orders, and how many parcels each has booked per day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from shop.core.db import Base


class Carrier(Base):
    __tablename__ = "carriers"
    __table_args__ = (
        # A merchant tells carriers apart by name in the back-office and in e-mails.
        UniqueConstraint("merchant_id", "name", name="uq_carriers_merchant_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(default=0)  # lower is preferred
    daily_capacity: Mapped[int]
    transit_days: Mapped[int] = mapped_column(default=2)
    is_down: Mapped[bool] = mapped_column(default=False)
    # What the shopper pays, by destination zone (see shop.fulfilment.shipping), in the
    # shop's currency's minor units; orders worth `free_shipping_over` or more ship free.
    origin_country: Mapped[str] = mapped_column(String(2), default="DE", server_default="DE")
    domestic_rate: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    eu_rate: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    world_rate: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    free_shipping_over: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Orders placed at or after this hour (UTC) are dispatched from the next day on.
    cutoff_hour: Mapped[int] = mapped_column(default=24, server_default="24")
    # Days it neither dispatches nor delivers besides weekends: "MM-DD" every year or
    # "YYYY-MM-DD" once, on top of the public holidays of its origin (working_days.py)
    # unless `public_holidays` is false; None: no days of its own.
    holidays: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # The region it leaves from, for regional public holidays: ISO 3166-2 like "DE-BY".
    origin_subdivision: Mapped[str | None] = mapped_column(String(64), nullable=True)
    public_holidays: Mapped[bool] = mapped_column(default=True, server_default=sa_true())


class CarrierDay(Base):
    """Parcels booked with a carrier for one dispatch day; never above its capacity."""

    __tablename__ = "carrier_days"
    __table_args__ = (CheckConstraint("booked >= 0", name="ck_carrier_days_booked"),)

    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    booked: Mapped[int] = mapped_column(default=0)
