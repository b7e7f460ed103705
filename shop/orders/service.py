"""The order lifecycle and its stock reservations.

Every transition is a conditional UPDATE on the current status, so two actors (a webhook
and the expiry sweep, say) can never both apply theirs: whoever comes second changes nothing.

    pending_payment -> paid -> confirmed
    pending_payment -> payment_failed | cancelled

An order's lines hold its units in `products.reserved` while it is pending_payment or paid;
confirming sells them (they leave stock and reservations), payment_failed and cancelled give
them back. The lines record no state of their own: the order's transition decides, once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Update, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, selectinload

from shop.catalog.models import Product
from shop.core.direct_statements import DirectStatements
from shop.core.errors import InvalidInput, NotFound, Unauthorized
from shop.core.timeutil import utcnow
from shop.orders.models import (
    ORDER_STATUSES,
    RELEASED_STATUSES,
    Order,
    OrderLine,
    OrderStatus,
    OutboxMessage,
    still_in,
)

log = logging.getLogger(__name__)

ORDER_PAID_TOPIC = "order.paid"


def access_token(secret_key: str, order_id: str) -> str:
    """The shopper's key to one order, derived so that a retried checkout can return it again."""
    # The one-shot form: the worker derives one per confirmation mail, and it skips building
    # an HMAC object (the same digest as hmac.new(...).hexdigest()).
    return hmac.digest(secret_key.encode(), f"order-access:{order_id}".encode(),
                       "sha256").hex()


def order_for_shopper(session: Session, secret_key: str, order_id: str, token: str) -> Order:
    order = session.get(Order, order_id) if len(order_id) <= 32 else None
    if order is None:
        raise NotFound(f"there is no order {order_id!r}", code="unknown_order")
    # Compared as bytes: the token is whatever text the request carried, and a non-ASCII
    # one must open nothing, as any wrong token, rather than upset the comparison.
    presented = token.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(access_token(secret_key, order_id).encode(), presented):
        raise Unauthorized("the access token does not open this order: use the access_token "
                           "returned by checkout")
    return order


def transition(session: Session, order_id: str, *, from_status: str, to_status: str,
               **values) -> bool:
    """Move an order from one status to the next; False when it had already moved on."""
    values.setdefault("updated_at", utcnow())
    result = session.execute(transition_statement(order_id, from_status, to_status, values))
    return result.rowcount == 1


def transition_statement(order_id: str, from_status: str, to_status: str,
                         values: dict) -> Update:
    """`transition`'s one conditional UPDATE, with `values` written beside the status."""
    if to_status in RELEASED_STATUSES:
        # A failed or cancelled order lets go of its cart: the shopper may try again.
        values = {"cart_claim": None, **values}
    # The table, not the entity: one conditional UPDATE needs none of the ORM's bookkeeping.
    orders = Order.__table__
    return (update(orders).where(orders.c.id == order_id, still_in(from_status))
            .values(status=to_status, **values))


def mark_paid(session: Session, order_id: str, reference: str | None, *,
              now: datetime | None = None, sent_by_caller: bool = False) -> int | None:
    """Record a successful payment and queue the order for a worker, in one transaction.

    Returns the id of the order's outbox row, or None when the order had already moved on.
    With `sent_by_caller` the row is written as relayed: the caller adds it to the stream
    itself right after the commit (one round trip instead of a relay's two transactions),
    and calls `queue.unstamp` when that fails. A process that dies in between leaves a paid
    order out of the stream, which the worker's lost-order sweep queues again.
    """
    return mark_paid_on(session.connection(), order_id, reference, now=now,
                        sent_by_caller=sent_by_caller)


def mark_paid_on(connection: Connection, order_id: str, reference: str | None, *,
                 now: datetime | None = None, sent_by_caller: bool = False) -> int | None:
    """`mark_paid` on a Core connection. On PostgreSQL it is one statement, atomic on its
    own: a caller with nothing else to write may run it in autocommit, without the BEGIN
    and COMMIT round trips of a transaction."""
    now = now or utcnow()
    relayed_at = now if sent_by_caller else None
    if connection.dialect.name == "postgresql":
        # One round trip: the outbox row is inserted from what the UPDATE returned, so an
        # order that moved on gets none.
        return connection.scalar(_MARK_PAID_AND_QUEUE,
                                 _paid_and_queued(order_id, reference, now, sent_by_caller))
    if connection.execute(_MARK_PAID, {"b_order": order_id, "b_now": now,
                                       "b_reference": reference}).rowcount != 1:
        return None
    return connection.scalar(_QUEUE_PAID, {"topic": ORDER_PAID_TOPIC, "order_id": order_id,
                                           "payload": {}, "created_at": now,
                                           "relayed_at": relayed_at})


def mark_paid_direct(statements: DirectStatements, order_id: str, reference: str | None, *,
                     now: datetime, sent_by_caller: bool = False) -> int | None:
    """`mark_paid_on` as one statement on the database's direct statements (PostgreSQL: a
    connection of the thread's own, prepared, in autocommit)."""
    row = statements.first(_MARK_PAID_AND_QUEUE,
                           _paid_and_queued(order_id, reference, now, sent_by_caller))
    return None if row is None else row[0]


def _paid_and_queued(order_id: str, reference: str | None, now: datetime,
                     sent_by_caller: bool) -> dict:
    """`_MARK_PAID_AND_QUEUE`'s parameters."""
    return {"b_order": order_id, "b_now": now, "b_reference": reference,
            "b_topic": ORDER_PAID_TOPIC, "b_payload": {},
            "b_relayed_at": now if sent_by_caller else None}


# Built once: marking an order paid is on every checkout's path (see shop.checkout.statements).
_MARK_PAID = (update(Order.__table__)
              .where(Order.__table__.c.id == bindparam("b_order"),
                     still_in(OrderStatus.PENDING_PAYMENT))
              .values(status=OrderStatus.PAID, paid_at=bindparam("b_now"),
                      updated_at=bindparam("b_now"), payment_reference=bindparam("b_reference")))
_QUEUE_PAID = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)
# Both in one statement where the database allows a data-modifying CTE (PostgreSQL).
_OUTBOX = OutboxMessage.__table__
_PAID = _MARK_PAID.returning(Order.__table__.c.id).cte("paid")
_MARK_PAID_AND_QUEUE = (
    insert(_OUTBOX)
    .from_select(["topic", "order_id", "payload", "created_at", "relayed_at"],
                 select(bindparam("b_topic", type_=_OUTBOX.c.topic.type), _PAID.c.id,
                        bindparam("b_payload", type_=_OUTBOX.c.payload.type),
                        bindparam("b_now", type_=_OUTBOX.c.created_at.type),
                        bindparam("b_relayed_at", type_=_OUTBOX.c.relayed_at.type)))
    .returning(_OUTBOX.c.id))


def mark_payment_failed(session: Session, order_id: str, reason: str) -> bool:
    """Record a refused payment and give the order's stock back."""
    if not transition(session, order_id, from_status="pending_payment",
                      to_status="payment_failed", failure_reason=reason[:255]):
        return False
    release_reservations(session, order_id)
    return True


def release_reservations(session: Session, order_id: str) -> None:
    """Return every unit the order held to the shelf.

    Called once per order, right after the transition that ends its hold (to payment_failed
    or cancelled) succeeded: a line's hold is its order's status, and that conditional
    transition is what makes the release happen exactly once."""
    lines = session.execute(select(OrderLine.product_id, OrderLine.quantity)
                            .where(OrderLine.order_id == order_id)
                            .order_by(OrderLine.product_id)).all()
    for line in lines:
        session.execute(update(Product).where(Product.id == line.product_id)
                        .values(reserved=Product.reserved - line.quantity))


@dataclass(frozen=True)
class ExpiredOrder:
    order_id: str


def expire_reservations(session: Session, now: datetime | None = None,
                        product_ids: list[int] | None = None, limit: int = 500) -> list[str]:
    """Cancel unpaid orders whose reservation ran out and return their stock.

    With `product_ids`, only orders holding one of those products: checkout calls this
    before it declares a product sold out, so stock comes back even if no worker runs.
    """
    now = now or utcnow()
    statement = (select(Order.id)
                 .where(Order.status == "pending_payment", Order.reservation_expires_at < now)
                 .limit(limit))
    if product_ids:
        statement = statement.where(Order.id.in_(
            select(OrderLine.order_id).where(OrderLine.product_id.in_(product_ids))))
    cancelled = []
    for order_id in session.scalars(statement).all():
        if transition(session, order_id, from_status="pending_payment", to_status="cancelled",
                      failure_reason="reservation_expired"):
            release_reservations(session, order_id)
            cancelled.append(order_id)
    if cancelled:
        log.info("expired %d unpaid orders", len(cancelled))
    return cancelled


def parse_status(raw: str | None) -> str | None:
    if raw in (None, ""):
        return None
    if raw not in ORDER_STATUSES:
        raise InvalidInput(f"'status' must be one of {', '.join(ORDER_STATUSES)}: got {raw!r}")
    return raw


def list_orders(session: Session, merchant_id: int, status: str | None = None,
                limit: int = 50, before: datetime | None = None,
                after_cursor: str | None = None) -> tuple[list[Order], str | None]:
    """One page of the merchant's orders, newest first, and the cursor of the next page.

    The cursor is the last order's (created_at, id): orders created in the same instant
    are told apart by id, so following `next_cursor` reaches every order exactly once.
    """
    statement = select(Order).where(Order.merchant_id == merchant_id)
    if status:
        statement = statement.where(Order.status == status)
    if before:
        statement = statement.where(Order.created_at < before)
    if after_cursor:
        created_at, order_id = decode_order_cursor(after_cursor)
        statement = statement.where(or_(Order.created_at < created_at,
                                        and_(Order.created_at == created_at,
                                             Order.id > order_id)))
    # Lines in one more query for the whole page, not one per order.
    rows = list(session.scalars(statement.order_by(Order.created_at.desc(), Order.id)
                                .options(selectinload(Order.lines)).limit(limit + 1)))
    items = rows[:limit]
    next_cursor = encode_order_cursor(items[-1]) if len(rows) > limit else None
    return items, next_cursor


def encode_order_cursor(order: Order) -> str:
    raw = f"{order.created_at.isoformat()}|{order.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_order_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        moment, order_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is not None or not order_id or len(order_id) > 32:
            raise ValueError(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("'cursor' is not one this API gave out: pass the 'next_cursor' of "
                           "the previous page", code="invalid_cursor") from None
    return created_at, order_id
