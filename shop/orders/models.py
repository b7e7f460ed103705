"""Orders, their lines (each holding a stock reservation), and the transactional outbox."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, configure_mappers, mapped_column, relationship

from shop.core.db import Base, MoneyAmount
from shop.core.timeutil import utcnow

if TYPE_CHECKING:
    from shop.fulfilment.models import Carrier


class OrderStatus(StrEnum):
    """pending_payment -> paid -> confirmed, or pending_payment -> payment_failed | cancelled"""

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    CONFIRMED = "confirmed"
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"


ORDER_STATUSES = tuple(OrderStatus)
# An order in one of these no longer claims its cart: the cart may be checked out again.
RELEASED_STATUSES = (OrderStatus.PAYMENT_FAILED, OrderStatus.CANCELLED)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key", name="uq_orders_idempotency"),
        # One cart, one live order: the database refuses a second order claiming the cart
        # while the first awaits payment or is paid, however many checkouts race for it.
        Index("uq_orders_cart_claim", "cart_claim", unique=True),
        # Every retried checkout finds its order by cart and key, paid carts being gone.
        Index("ix_orders_cart_id", "cart_id"),
        Index("ix_orders_merchant_status", "merchant_id", "status"),
        Index("ix_orders_status_expiry", "status", "reservation_expires_at"),
        # A shop's orders by time: today's sales on the dashboard, newest-first lists.
        Index("ix_orders_merchant_created_at", "merchant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    cart_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # SHA-256 of the checkout body: the same key with another body is refused, not replayed.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The cart id while the order is live (pending_payment, paid, confirmed); cleared when
    # payment fails or the order is cancelled, so the cart may be checked out again.
    cart_claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str] = mapped_column(String(254))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending_payment")
    total_amount: Mapped[int] = mapped_column(MoneyAmount)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    payment_gateway: Mapped[str] = mapped_column(String(16))
    payment_reference: Mapped[str | None] = mapped_column(String(255), nullable=True,
                                                          index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reservation_expires_at: Mapped[datetime]
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("carriers.id"), nullable=True)
    promised_delivery_date: Mapped[date | None] = mapped_column(nullable=True)
    # The shipping the shopper chose and paid for at checkout (part of total_amount), and
    # the VAT included in total_amount; the promise is what the checkout page showed.
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # False when the shop's prices were net: the lines and shipping are net and tax_amount
    # was added on top of them in total_amount (docs/vat.md).
    prices_include_vat: Mapped[bool] = mapped_column(default=True, server_default=true())
    shipping_option: Mapped[str | None] = mapped_column(String(32), nullable=True)
    shipping_carrier: Mapped[str | None] = mapped_column(String(100), nullable=True)
    shipping_promised_date: Mapped[date | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Set when the shopper's e-mail and address were anonymised (retention or request).
    personal_data_erased_at: Mapped[datetime | None] = mapped_column(nullable=True)

    carrier: Mapped[Carrier | None] = relationship()  # set when a worker confirms the order
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order",
                                                  order_by="OrderLine.id",
                                                  cascade="all, delete-orphan")


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int]
    unit_price_amount: Mapped[int] = mapped_column(MoneyAmount)
    # Retired: a line holds stock while its order awaits payment or is paid (the order's
    # status says it: shop.orders.service), and nothing reads this column any more. The
    # previous release still filters on it while both run during a rollout, so checkout
    # still writes "held" and nothing changes it after; the release after this one drops it
    # (expand, then contract).
    reservation: Mapped[str] = mapped_column(String(12), default="held")

    order: Mapped[Order] = relationship(back_populates="lines")


def as_written(columns: dict[str, Any]) -> Order:
    """The Order a Core statement just wrote with `columns`, in no session.

    Filled the way the ORM fills an order it loads, its columns put in place at once: the
    constructor's event for each of them cost 22 microseconds of a checkout's CPU (2 % of
    it), this one. A name that is not a column is refused as the constructor refuses it.
    """
    unknown = columns.keys() - _ORDER_COLUMNS
    if unknown:
        raise TypeError(f"{', '.join(sorted(unknown))}: not columns of orders")
    mapper = Order.__mapper__
    if not mapper.configured:
        # What the constructor's event does first: an order made before any other ORM use
        # of this process (a fresh worker's first checkouts) needs its attributes set up.
        configure_mappers()
    order = mapper.class_manager.new_instance()
    order.__dict__.update(columns)
    return order


_ORDER_COLUMNS = frozenset(Order.__table__.columns.keys())


def still_in(status: str) -> ColumnElement[bool]:
    """The order is still in `status`: the condition of a transition, beside its order's id.

    Written `(status = ...) IS TRUE`, which PostgreSQL checks on the row the id found but
    never uses to lead the search. As a plain `status = ...` it can: when the planner's
    statistics say that few orders are in that status (a fresh database, or the first minutes
    of a launch, before autovacuum analyzes `orders` again) and the statement is planned for
    its values (always behind PgBouncer, which prepares nothing), the order is looked for
    through a status index, among every order in that status. Seen: marking one order paid
    read 9,988 awaiting payment, 0.94 ms instead of 0.03 ms.
    """
    return (Order.__table__.c.status == status).is_(True)


class OutboxMessage(Base):
    """A message written in the same transaction as the state change it announces.

    The relay copies unrelayed rows to the Redis stream, so an order accepted while Redis is
    down is still delivered once Redis is back.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unrelayed", "relayed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    relayed_at: Mapped[datetime | None] = mapped_column(nullable=True)
