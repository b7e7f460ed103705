"""Checkout: reserve every line or none, pay, and queue the order — retry-safe end to end.

The payment call happens between two short transactions, never inside one: a slow gateway
must not hold row locks while a Christmas crowd is waiting for the same products.

  1. reserve: one transaction checks the cart (rules), creates the order, claims the cart for
     it and holds its stock — or raises 409/422 and holds nothing;
  2. pay: the gateway is called with the order id as its idempotency key;
  3. settle: one transaction marks the order paid (plus an outbox row) or failed (stock and
     cart claim back); then, best effort, the cart is deleted and the order relayed.

What a client may rely on:
- one cart becomes at most one live (pending or paid) order: the order claims its cart in a
  unique column, so of any number of racing checkouts, whatever their keys, one wins and the
  others get 409 `cart_already_checked_out` before anything is charged;
- the same Idempotency-Key and body returns the same order; another body is 422;
- once the payment went through, the answer is the paid order: cleaning up after it
  (deleting the cart, relaying to the workers) never turns it into an error.

A crash between 1 and 3 leaves a pending order whose reservation expires; a retry with the
same Idempotency-Key resumes at step 2 for that very order.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import redis
import sqlalchemy.exc
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.cart import service as carts
from shop.catalog.models import Product
from shop.checkout import pricing, rules
from shop.checkout.request import (  # noqa: F401  (re-exported for the views)
    ADDRESS_FIELDS,
    CheckoutRequest,
    parse_idempotency_key,
    parse_request,
)
from shop.checkout.rules import Limits
from shop.core.db import Database
from shop.core.errors import Conflict, DependencyDown, InvalidInput, NotFound, Problem
from shop.core.timeutil import utcnow
from shop.orders import queue
from shop.orders import service as orders
from shop.orders.models import Order, OrderLine, OrderStatus
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
    if idempotency_key:
        # Looked up before the cart: a paid checkout deletes its cart, and its retry must
        # still get the order back.
        earlier = _order_for_cart(database, cart_id, idempotency_key)
        if earlier is not None:
            return _replay(database, redis_client, gateway, earlier, cart_id, request, limits)
    # Also before the cart: a cart already paid for is gone, and the answer is "ordered".
    _refuse_if_claimed(database, cart_id)
    try:
        cart = carts.load_cart(redis_client, cart_id)
    except NotFound:
        _refuse_if_claimed(database, cart_id)  # paid and deleted since the look above
        raise
    try:
        order = _reserve(database, cart, request, idempotency_key, limits)
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
    order, client_secret = _pay(database, gateway, order, request, limits)
    _tidy_up(database, redis_client, order, cart_id)
    return CheckoutResult(order, replayed=False, client_secret=client_secret)


def _order_for_cart(database: Database, cart_id: str, key: str) -> Order | None:
    with database.reading() as session:
        return session.scalar(select(Order).where(Order.cart_id == cart_id,
                                                  Order.idempotency_key == key))


def _order_for_key(database: Database, merchant_id: int, key: str) -> Order | None:
    with database.reading() as session:
        return session.scalar(select(Order).where(Order.merchant_id == merchant_id,
                                                  Order.idempotency_key == key))


def _refuse_if_claimed(database: Database, cart_id: str) -> None:
    """409 when the cart already became a live order, under another Idempotency-Key."""
    with database.reading() as session:
        live = session.scalar(select(Order).where(Order.cart_id == cart_id,
                                                  Order.cart_claim == cart_id))
    if live is not None:
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
    client_secret = None
    if order.status == OrderStatus.PENDING_PAYMENT and order.payment_reference is None:
        # The first attempt never heard back from the gateway: finish its payment now.
        order, client_secret = _pay(database, gateway, order, request, limits)
    _tidy_up(database, redis_client, order, cart_id)
    return CheckoutResult(order, replayed=True, client_secret=client_secret)


def _reserve(database: Database, cart: carts.Cart, request: CheckoutRequest,
             idempotency_key: str | None, limits: Limits) -> Order:
    with database.transaction() as session:
        lines = carts.price_lines(session, cart)
        if not lines:
            raise InvalidInput("the cart is empty: add products before checking out",
                               code="empty_cart")
        currency = rules.cart_currency(lines)
        rules.check_line_quantities(lines, limits.max_line_quantity)
        # `expected_total` is the cart's total the shopper saw; shipping is chosen on its own.
        rules.check_total(sum(line.line_total for line in lines), currency,
                          request.expected_total)
        priced = pricing.price_order(session, cart.merchant_id, lines,
                                     request.shipping_address.get("country", ""),
                                     request.shipping_option, utcnow())
        short = _hold_stock(session, lines)
        if short:
            # Unpaid orders past their reservation still hold stock until swept: sweep the
            # products concerned and try once more before saying they are sold out.
            orders.expire_reservations(session, product_ids=[line.product.id for line in lines])
            short = _hold_stock(session, lines)
        if short:
            raise Conflict("not enough stock for " + ", ".join(
                f"{line.product.sku} (asked {line.quantity}, available {available})"
                for line, available in short) + ": nothing was reserved; lower the quantities",
                code="insufficient_stock",
                extra={"lines": [{"sku": line.product.sku, "requested": line.quantity,
                                  "available": available} for line, available in short]})
        order = Order(
            id=uuid.uuid4().hex, merchant_id=cart.merchant_id, cart_id=cart.cart_id,
            cart_claim=cart.cart_id, idempotency_key=idempotency_key,
            request_fingerprint=request.fingerprint, email=request.email,
            shipping_address=request.shipping_address, status=OrderStatus.PENDING_PAYMENT,
            total_amount=priced.total_amount, **priced.order_columns(),
            currency=currency, payment_gateway=request.gateway,
            reservation_expires_at=utcnow() + timedelta(seconds=limits.reservation_ttl_s),
            lines=[OrderLine(product_id=line.product.id, sku=line.product.sku,
                             name=line.product.name, quantity=line.quantity,
                             unit_price_amount=line.product.price_amount)
                   for line in lines],
        )
        session.add(order)
        # The cart claim's unique index refuses a second live order for the cart here.
        session.flush()
        return order


def _hold_stock(session: Session, lines: list[carts.PricedLine]):
    """Reserve every line in one savepoint, or none; returns the lines that fell short.

    Each line is one conditional UPDATE, which the database applies atomically: two shoppers
    racing for the last unit cannot both see it free. Lines go in product-id order so that
    concurrent checkouts lock rows in the same order and never deadlock.
    """
    short = []
    savepoint = session.begin_nested()
    for line in sorted(lines, key=lambda line: line.product.id):
        held = session.execute(update(Product)
                               .where(Product.id == line.product.id,
                                      Product.stock - Product.reserved >= line.quantity)
                               .values(reserved=Product.reserved + line.quantity))
        if held.rowcount != 1:
            available = session.scalar(select(Product.stock - Product.reserved)
                                       .where(Product.id == line.product.id))
            short.append((line, available))
    if short:
        savepoint.rollback()
    else:
        savepoint.commit()
    return short


def _pay(database: Database, gateway: Gateway, order: Order, request: CheckoutRequest,
         limits: Limits) -> tuple[Order, str | None]:
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
            return _settle(database, order, result, limits), result.client_secret
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


def _settle(database: Database, order: Order, result, limits: Limits) -> Order:
    with database.transaction() as session:
        if result.status is PaymentStatus.SUCCEEDED:
            orders.mark_paid(session, order.id, result.reference)
        elif result.status is PaymentStatus.FAILED:
            session.execute(update(Order).where(Order.id == order.id)
                            .values(payment_reference=result.reference))
            orders.mark_payment_failed(session, order.id, result.failure_reason or "declined")
        else:
            # Waiting for the shopper (3-D Secure): hold the stock only briefly, so that a
            # script that never authenticates cannot lock a product for a whole reservation.
            action_deadline = utcnow() + timedelta(seconds=limits.action_hold_ttl_s)
            session.execute(update(Order).where(Order.id == order.id)
                            .values(payment_reference=result.reference,
                                    reservation_expires_at=min(order.reservation_expires_at,
                                                               action_deadline)))
        return session.get(Order, order.id, populate_existing=True)


def _tidy_up(database: Database, redis_client: redis.Redis, order: Order,
             cart_id: str) -> None:
    """After the payment: drop the cart and hand a paid order to the workers, best effort.

    Neither may turn a paid order into an error: the cart stays claimed by the order (so a
    leftover cart can never be paid twice), and the outbox relays the order later anyway.
    """
    if order.status in (OrderStatus.PAID, OrderStatus.PENDING_PAYMENT):
        try:
            carts.delete_cart(redis_client, cart_id)
        except redis.exceptions.RedisError as problem:
            log.warning("cart %s of order %s not deleted: %s", cart_id, order.id, problem)
    if order.status == OrderStatus.PAID:
        try:
            queue.relay_soon(database, redis_client)
        except sqlalchemy.exc.SQLAlchemyError as problem:
            log.warning("order %s left in the outbox for the next relay: %s", order.id,
                        problem)
