"""Checkout: reserve every line or none, pay, and queue the order — retry-safe end to end.

The payment call happens between two short transactions, never inside one: a slow gateway
must not hold row locks while a Christmas crowd is waiting for the same products.

  1. reserve: one transaction finds the cart's earlier orders (a replay of this
     Idempotency-Key, or a live order that already claimed the cart), checks the cart
     (rules), creates the order, claims the cart for it and holds its stock — or raises
     409/422 and holds nothing;
  2. pay: the gateway is called with the order id as its idempotency key;
  3. settle: one transaction marks the order paid (plus an outbox row) or failed (stock and
     cart claim back) — on PostgreSQL a paid order and its outbox row are one statement,
     atomic by itself, run in autocommit; then, best effort and in one Redis round trip,
     the cart is deleted and the paid order added to the stream.

These two transactions and three Redis round trips (the cart, the gateway's, the tidy-up)
are all a checkout costs: every look-up rides in a transaction that was needed anyway.

What a client may rely on:
- one cart becomes at most one live (pending or paid) order: the order claims its cart in a
  unique column, so of any number of racing checkouts, whatever their keys, one wins and the
  others get 409 `cart_already_checked_out` before anything is charged;
- the same Idempotency-Key and body returns the same order; another body is 422;
- once the payment went through, the answer is the paid order: cleaning up after it
  (deleting the cart, relaying to the workers) never turns it into an error.

A crash between 1 and 3 leaves a pending order whose reservation expires; a retry with the
same Idempotency-Key resumes at step 2 for that very order. A crash after 3 leaves a paid
order that the stream may lack: the worker's lost-order sweep queues it again.
"""

from __future__ import annotations

import logging
import time
import uuid
import weakref
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
import sqlalchemy.exc
from sqlalchemy import Row, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from shop.cart import service as carts
from shop.checkout import pricing, rules, sale_facts
from shop.checkout import statements as sql
from shop.checkout.request import (  # noqa: F401  (re-exported for the views)
    ADDRESS_FIELDS,
    CheckoutRequest,
    parse_idempotency_key,
    parse_request,
)
from shop.checkout.rules import Limits
from shop.core import redis_direct
from shop.core.db import Database
from shop.core.errors import Conflict, DependencyDown, InvalidInput, NotFound, Problem
from shop.core.timeutil import utcnow
from shop.orders import queue
from shop.orders import service as orders
from shop.orders.models import Order, OrderStatus, as_written
from shop.orders.service import ORDER_PAID_TOPIC
from shop.payments.interface import Gateway, GatewayUnavailable, PaymentRequest, PaymentStatus

log = logging.getLogger(__name__)

# Recording a payment that went through is retried briefly before the request gives up:
# the money is taken, and the shopper should see a paid order, not an error.
SETTLE_ATTEMPTS = 3
SETTLE_BACKOFF_S = 0.2


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    replayed: bool  # True when an earlier request with the same Idempotency-Key made it
    client_secret: str | None = None  # for a browser that must finish the payment (3-D Secure)


def checkout(database: Database, redis_client: redis.Redis, gateway: Gateway, *, cart_id: str,
             request: CheckoutRequest, idempotency_key: str | None,
             limits: Limits) -> CheckoutResult:
    """Turn a cart into an order: reserved, paid (or refused), and queued."""
    # Read before the transaction: a slow Redis must not stretch a database transaction. A
    # cart already paid for is gone; the transaction then tells what became of it.
    try:
        cart = carts.load_cart(redis_client, cart_id)
    except NotFound:
        cart = None
    try:
        reserved = _reserve(database, cart_id, cart, request, idempotency_key, limits)
    except sqlalchemy.exc.IntegrityError:
        # A concurrent checkout won the race: one with the same key gets its order back,
        # one with another key learns the cart is taken.
        if idempotency_key:
            earlier = _order_for_key(database, cart.merchant_id, idempotency_key)
            if earlier is not None:
                return _replay(database, redis_client, gateway, earlier, cart_id, request,
                               limits)
        _refuse_if_claimed(database, cart_id)
        raise
    if isinstance(reserved, Replay):
        return _replay(database, redis_client, gateway, reserved.order, cart_id, request,
                       limits)
    order, client_secret, outbox_id = _pay(database, gateway, reserved, request, limits)
    _tidy_up(database, redis_client, order, cart_id, outbox_id)
    return CheckoutResult(order, replayed=False, client_secret=client_secret)


@dataclass(frozen=True)
class Replay:
    """An order an earlier request with the same Idempotency-Key made for this cart."""

    order: Order


def _earlier_orders(connection: Connection, cart_id: str, key: str | None) -> list[Row]:
    """The cart's orders that decide before anything is reserved, in one query: the one made
    with this Idempotency-Key, and the live one claiming the cart."""
    return list(connection.execute(sql.EARLIER_ORDERS, {"cart_id": cart_id, "key": key}))


def _order_for_key(database: Database, merchant_id: int, key: str) -> Order | None:
    with database.reading() as session:
        return session.scalar(select(Order).where(Order.merchant_id == merchant_id,
                                                  Order.idempotency_key == key))


def _refuse_if_claimed(database: Database, cart_id: str) -> None:
    with database.reading() as session:
        _refuse_if_live(session.scalars(select(Order).where(Order.cart_id == cart_id,
                                                            Order.cart_claim == cart_id)))


def _refuse_if_live(orders_of_cart) -> None:
    """409 when the cart already became a live order, under another Idempotency-Key."""
    for live in orders_of_cart:
        if live.cart_claim is None:
            continue
        raise Conflict(f"this cart already became order {live.id} ({live.status}) and is "
                       "paid for at most once: retry with that checkout's Idempotency-Key "
                       "to get the order again, or open a new cart to buy more",
                       code="cart_already_checked_out",
                       extra={"order_id": live.id, "order_status": live.status})


def _replay(database: Database, redis_client: redis.Redis, gateway: Gateway, order: Order,
            cart_id: str, request: CheckoutRequest, limits: Limits) -> CheckoutResult:
    if order.cart_id != cart_id:
        raise Problem("this Idempotency-Key was already used for another cart: use a new key "
                      "for a new checkout", code="idempotency_key_reused", status=422)
    if order.request_fingerprint and order.request_fingerprint != request.fingerprint:
        raise Problem("this Idempotency-Key was already used with a different body: send "
                      "the same body to get that order again, or use a new key for a new "
                      "checkout", code="idempotency_key_reused", status=422)
    client_secret = outbox_id = None
    if order.status == OrderStatus.PENDING_PAYMENT and order.payment_reference is None:
        # The first attempt never heard back from the gateway: finish its payment now.
        order, client_secret, outbox_id = _pay(database, gateway, order, request, limits)
    _tidy_up(database, redis_client, order, cart_id, outbox_id)
    return CheckoutResult(order, replayed=True, client_secret=client_secret)


def _reserve(database: Database, cart_id: str, cart: carts.Cart | None,
             request: CheckoutRequest, idempotency_key: str | None,
             limits: Limits) -> Order | Replay:
    """The cart's earlier orders, the rules, the stock, the order: all of it or nothing."""
    if cart is not None and len(cart.quantities) == 1 and _writes_directly(database):
        reserved = _reserve_direct(database, cart_id, cart, request, idempotency_key, limits)
        if reserved is not None:
            return reserved
        # An earlier order, a shop that is gone or stock that fell short: the transaction
        # below answers (a replay, a 409, or sweeping the holds past their reservation and
        # trying again before saying what is missing).
    return _reserve_in_transaction(database, cart_id, cart, request, idempotency_key, limits)


def _writes_directly(database: Database) -> bool:
    """Whether checkout's one-statement steps may run on the database's direct statements:
    on libpq (PostgreSQL through psycopg), where they are prepared and need no transaction
    of their own, and only where those statements reach the database that takes writes."""
    statements = database.statements
    return statements.on_libpq and statements.engine is database.engine


def _reserve_direct(database: Database, cart_id: str, cart: carts.Cart,
                    request: CheckoutRequest, idempotency_key: str | None,
                    limits: Limits) -> Order | None:
    """`_reserve` for a cart of one product (a launch's checkout) in at most two statements
    and no transaction: what it sells by (read, or remembered from an earlier checkout of
    the SKU: `sale_facts`), then the hold and the order in one statement, which makes all of
    it or nothing, and only while those facts still hold. None when the transaction's path
    must answer: an earlier order of the cart decides (a replay, or another key's live
    order), the shop is gone, the stock fell short or the facts moved (nothing written)."""
    statements = database.statements
    ((sku, quantity),) = cart.quantities.items()
    remembered = sale_facts.of(database)
    rows = remembered.get(cart.merchant_id, sku)
    read_now = rows is None
    if read_now:
        rows = statements.rows(sql.ONE_PRODUCT_CHECKOUT, {
            "merchant_id": cart.merchant_id, "sku": sku, "cart_id": cart_id,
            "key": idempotency_key})
        # (Remembered facts carry the first checkout's `decided_before`, which is of its
        # cart alone: the write's unique indexes decide for this one.)
        if not rows or rows[0].decided_before:
            return None
    product = rows[0][sql.ONE_PRODUCT_COLUMNS]
    lines = [] if product[0] is None else [carts.PricedLine(carts.CartProduct(*product),
                                                            quantity)]
    now = utcnow()
    # A carrier's bookings are read only when the shop has carriers (shipping's dates).
    with (database.read_connection() if _carriers(rows) else nullcontext()) as bookings:
        columns, line_rows = _order_to_make(bookings, cart, lines, rows, request,
                                            idempotency_key, limits, now)
    line = {name: value for name, value in line_rows[0].items() if name != "order_id"}
    sold_by = lines[0].product._asdict()
    made = statements.first(sql.reserve_one_line(tuple(columns), tuple(line)), {
        "b_product": line["product_id"], "b_quantity": line["quantity"], "b_now": now,
        "b_merchant": cart.merchant_id, "b_vat": rows[0].shop_prices_include_vat,
        "b_carriers": rows[0].carriers_fingerprint,
        **{"b_product_" + name: sold_by[name] for name in sql.SOLD_BY},
        **{"o_" + name: value for name, value in columns.items()},
        **{"l_" + name: value for name, value in line.items()}})
    if made is None:
        # Too little stock, or something it was sold by changed: read it all again next time.
        remembered.forget(cart.merchant_id, sku)
        return None
    if read_now:
        remembered.remember(cart.merchant_id, sku, rows)
    return as_written(columns)


def _reserve_in_transaction(database: Database, cart_id: str, cart: carts.Cart | None,
                            request: CheckoutRequest, idempotency_key: str | None,
                            limits: Limits) -> Order | Replay:
    """One transaction: the earlier orders of the cart, the rules, the stock, the order."""
    # A Core transaction: its statements are prebuilt Core, and the ORM's session would only
    # add its bookkeeping to the BEGIN and the COMMIT (a session joins it on the rare paths).
    with database.engine.begin() as connection:
        earlier = _earlier_orders(connection, cart_id, idempotency_key)
        replayed = _replayed_order_id(earlier, idempotency_key)
        if replayed is not None:
            # Looked up before the cart: a paid checkout deletes its cart, and its retry
            # must still get the order back.
            with Session(bind=connection, expire_on_commit=False) as session:
                return Replay(session.get(Order, replayed))
        if cart is None:
            raise carts.unknown_cart(cart_id)
        lines, _gross = carts.price_rows(connection, cart)
        now = utcnow()
        shop_rows = list(connection.execute(sql.SHOP_PRICING,
                                            {"merchant_id": cart.merchant_id}))
        columns, line_rows = _order_to_make(connection, cart, lines, shop_rows, request,
                                            idempotency_key, limits, now)
        # Core inserts: the order is written once and never changed in this transaction, so
        # the ORM's unit of work would only add cost. The cart claim's unique index refuses a
        # second live order for the cart here, before any stock is locked.
        _insert_order(connection, columns, line_rows)
        # The stock last: in a launch every checkout wants the same product row, and its lock
        # lasts from here to the commit. A refusal below rolls the order back with it.
        short = _hold_stock(connection, lines, now)
        if short:
            # Unpaid orders past their reservation still hold stock until swept: sweep the
            # products concerned and try once more before saying they are sold out. As of
            # `now`, the moment this order was made: whatever the wait, never this order.
            with Session(bind=connection) as session:
                orders.expire_reservations(session, now,
                                           product_ids=[line.product.id for line in lines])
            short = _hold_stock(connection, lines, now)
        if short:
            raise Conflict("not enough stock for " + ", ".join(
                f"{line.product.sku} (asked {line.quantity}, available {available})"
                for line, available in short) + ": nothing was reserved; lower the quantities",
                code="insufficient_stock",
                extra={"lines": [{"sku": line.product.sku, "requested": line.quantity,
                                  "available": available} for line, available in short]})
        # The answer's order, not attached to any session (its lines are in the database).
        return as_written(columns)


def _replayed_order_id(earlier: list[Row], idempotency_key: str | None) -> str | None:
    """The order this Idempotency-Key already made for the cart, if any; 409 when another
    key's live order claims the cart."""
    for row in earlier:
        if idempotency_key and row.idempotency_key == idempotency_key:
            return row.id
    _refuse_if_live(earlier)
    return None


def _carriers(shop_rows: list[Row]) -> list[Row]:
    """The shop's usable carriers, preferred first, from `sql.SHOP_PRICING`'s rows."""
    return [row for row in shop_rows if row.id is not None]


def _order_to_make(bookings: Connection | None, cart: carts.Cart,
                   lines: list[carts.PricedLine], shop_rows: list[Row],
                   request: CheckoutRequest, idempotency_key: str | None, limits: Limits,
                   now: datetime) -> tuple[dict, list[dict]]:
    """The order's and its lines' columns, once the cart passes the rules (422 if not).
    `bookings`: where the carriers' bookings are read (needed only if the shop has
    carriers)."""
    if not lines:
        raise InvalidInput("the cart is empty: add products before checking out",
                           code="empty_cart")
    currency = rules.cart_currency(lines)
    rules.check_line_quantities(lines, limits.max_line_quantity)
    # `expected_total` is the cart's `total` the shopper saw (its lines at the prices
    # shown, gross or net): shipping and added VAT depend on choices made at checkout.
    rules.check_total(sum(line.line_total for line in lines), currency,
                      request.expected_total)
    # A shop that is gone counts as gross, the default (as shop_prices says).
    prices_include_vat = not shop_rows or shop_rows[0].shop_prices_include_vat is not False
    priced = pricing.price_order(bookings, _carriers(shop_rows), lines,
                                 request.shipping_address.get("country", ""),
                                 request.shipping_option, now, prices_include_vat)
    columns = dict(
        id=uuid.uuid4().hex, merchant_id=cart.merchant_id, cart_id=cart.cart_id,
        cart_claim=cart.cart_id, idempotency_key=idempotency_key,
        request_fingerprint=request.fingerprint, email=request.email,
        shipping_address=request.shipping_address, status=OrderStatus.PENDING_PAYMENT,
        total_amount=priced.total_amount, **priced.order_columns(),
        currency=currency, payment_gateway=request.gateway,
        reservation_expires_at=now + timedelta(seconds=limits.reservation_ttl_s),
        created_at=now, updated_at=now)
    line_rows = [dict(order_id=columns["id"], product_id=line.product.id,
                      sku=line.product.sku, name=line.product.name,
                      quantity=line.quantity, unit_price_amount=line.product.price_amount,
                      # Retired (the order's status says it), but the previous release
                      # still reads it during a rollout: see `OrderLine.reservation`.
                      reservation="held") for line in lines]
    return columns, line_rows


def _insert_order(connection: Connection, columns: dict, line_rows: list[dict]) -> None:
    """The order and its lines: one statement for an order of one line on PostgreSQL."""
    if len(line_rows) == 1 and connection.dialect.name == "postgresql":
        line = {name: value for name, value in line_rows[0].items() if name != "order_id"}
        connection.execute(sql.insert_order_and_line(tuple(columns), tuple(line)),
                           {**{"o_" + name: value for name, value in columns.items()},
                            **{"l_" + name: value for name, value in line.items()}})
        return
    connection.execute(sql.INSERT_ORDER, columns)
    connection.execute(sql.INSERT_ORDER_LINES, line_rows)


def _hold_stock(connection: Connection, lines: list[carts.PricedLine], now: datetime):
    """Reserve every line, or none; returns the lines that fell short.

    Each line is one conditional UPDATE, which the database applies atomically: two shoppers
    racing for the last unit cannot both see it free. Lines go in product-id order so that
    concurrent checkouts lock rows in the same order and never deadlock. When a line falls
    short, the lines held before it are given back in the same transaction (no savepoint:
    the common case, everything held, then costs no extra statements).
    """
    short, held = [], []
    for line in sorted(lines, key=lambda line: line.product.id):
        units = {"b_product": line.product.id, "b_quantity": line.quantity}
        if connection.execute(sql.HOLD, {**units, "b_now": now}).rowcount == 1:
            held.append(units)
        else:
            short.append((line, connection.scalar(sql.FREE_UNITS, units)))
    if short and held:
        connection.execute(sql.UNHOLD, held)
    return short


def _pay(database: Database, gateway: Gateway, order: Order, request: CheckoutRequest,
         limits: Limits) -> tuple[Order, str | None, int | None]:
    """Charge the order; the order as settled, the gateway's client secret, and the id of
    the outbox row this process must add to the stream (paid orders only)."""
    payment = PaymentRequest(order_id=order.id, amount=order.total_amount,
                             currency=order.currency, token=request.token,
                             email=request.email, idempotency_key=f"order-{order.id}")
    try:
        result = gateway.charge(payment)
    except GatewayUnavailable as problem:
        log.warning("payment gateway unavailable for order %s: %s", order.id, problem)
        raise DependencyDown("the payment provider is unreachable; your order is kept — retry "
                             "with the same Idempotency-Key") from None
    for attempt in range(1, SETTLE_ATTEMPTS + 1):
        try:
            settled, outbox_id = _settle(database, order, result, limits)
            return settled, result.client_secret, outbox_id
        except sqlalchemy.exc.OperationalError as problem:
            if attempt == SETTLE_ATTEMPTS:
                log.error("payment %s of order %s is %s but could not be recorded: %s",
                          result.reference, order.id, result.status.value, problem)
                # The cart stays claimed by this order: no other checkout can charge again.
                raise DependencyDown("the payment was processed but the order could not be "
                                     "recorded yet; retry with the same Idempotency-Key to "
                                     "get the order") from None
            time.sleep(SETTLE_BACKOFF_S * attempt)
    raise AssertionError("unreachable")


def _settle(database: Database, order: Order, result,
            limits: Limits) -> tuple[Order, int | None]:
    if result.status is PaymentStatus.SUCCEEDED:
        now = utcnow()
        outbox_id = _mark_paid(database, order.id, result.reference, now)
        if outbox_id is not None:
            # What the UPDATE just wrote: no need to read the order back.
            order.status, order.paid_at, order.updated_at = OrderStatus.PAID, now, now
            order.payment_reference = result.reference
            return order, outbox_id
        with database.reading() as session:  # it had moved on: say what it became
            return session.get(Order, order.id), None
    with database.transaction() as session:
        if result.status is PaymentStatus.FAILED:
            session.execute(update(sql.ORDERS).where(sql.ORDERS.c.id == order.id)
                            .values(payment_reference=result.reference))
            orders.mark_payment_failed(session, order.id, result.failure_reason or "declined")
        else:
            # Waiting for the shopper (3-D Secure): hold the stock only briefly, so that a
            # script that never authenticates cannot lock a product for a whole reservation.
            action_deadline = utcnow() + timedelta(seconds=limits.action_hold_ttl_s)
            session.execute(update(sql.ORDERS).where(sql.ORDERS.c.id == order.id)
                            .values(payment_reference=result.reference,
                                    reservation_expires_at=min(order.reservation_expires_at,
                                                               action_deadline)))
        return session.get(Order, order.id, populate_existing=True), None


def _mark_paid(database: Database, order_id: str, reference: str | None,
               now: datetime) -> int | None:
    """The paid order and its outbox row (as relayed: `_tidy_up` adds it to the stream).
    On PostgreSQL that is one statement, atomic by itself, so it runs in autocommit: no
    BEGIN and COMMIT round trips, no session."""
    if _writes_directly(database):
        return orders.mark_paid_direct(database.statements, order_id, reference, now=now,
                                       sent_by_caller=True)
    if database.engine.dialect.name == "postgresql":
        with _autocommit(database).connect() as connection:
            return orders.mark_paid_on(connection, order_id, reference, now=now,
                                       sent_by_caller=True)
    with database.transaction() as session:
        return orders.mark_paid(session, order_id, reference, now=now, sent_by_caller=True)


# The write engine in autocommit, one per Database, made at its first paid checkout (held
# weakly: a database goes away with its app).
_AUTOCOMMIT_ENGINES: weakref.WeakKeyDictionary[Database, Engine] = weakref.WeakKeyDictionary()


def _autocommit(database: Database) -> Engine:
    engine = _AUTOCOMMIT_ENGINES.get(database)
    if engine is None:
        engine = database.engine.execution_options(isolation_level="AUTOCOMMIT")
        _AUTOCOMMIT_ENGINES[database] = engine
    return engine


def _tidy_up(database: Database, redis_client: redis.Redis, order: Order, cart_id: str,
             outbox_id: int | None) -> None:
    """After the payment, in one Redis round trip: drop the cart, and add a paid order to the
    stream (`outbox_id`: its outbox row, written as relayed by `_settle`).

    Neither may turn a paid order into an error: the cart stays claimed by the order (so a
    leftover cart can never be paid twice), and an order the stream did not take goes back
    to the outbox for the next relay.
    """
    steps = {}
    if order.status in (OrderStatus.PAID, OrderStatus.PENDING_PAYMENT):
        steps["cart"] = carts.delete_cart_command(cart_id)
    if outbox_id is not None:
        steps["queue"] = queue.append_command(ORDER_PAID_TOPIC, order.id, outbox_id)
    if not steps:
        return
    try:
        outcomes = redis_direct.for_client(redis_client).batch(*steps.values())
    except redis.exceptions.RedisError as problem:
        outcomes = [problem] * len(steps)
    failed = {step: outcome for step, outcome in zip(steps, outcomes, strict=True)
              if isinstance(outcome, Exception)}
    if "cart" in failed:
        log.warning("cart %s of order %s not deleted: %s", cart_id, order.id, failed["cart"])
    if "queue" in failed:
        log.warning("order %s left in the outbox for the next relay: %s", order.id,
                    failed["queue"])
        try:
            queue.unstamp(database, [outbox_id])
        except sqlalchemy.exc.SQLAlchemyError as problem:
            log.error("order %s is neither in the stream nor waiting in the outbox; the "
                      "lost-order sweep will queue it: %s", order.id, problem)

