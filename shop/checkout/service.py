"""Checkout: reserve every line or none, pay, and queue the order — retry-safe end to end.

The payment call happens between two short transactions, never inside one: a slow gateway
must not hold row locks while a Christmas crowd is waiting for the same products.

  1. reserve: one transaction creates the order and holds its stock (or raises 409);
  2. pay: the gateway is called with the order id as its idempotency key;
  3. settle: one transaction marks the order paid (plus an outbox row) or failed (stock back).

A crash between 1 and 3 leaves a pending order whose reservation expires; a retry with the
same Idempotency-Key resumes at step 2 for that very order.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy.exc
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.cart import service as carts
from shop.catalog.models import Product
from shop.checkout import pricing
from shop.core import validation
from shop.core.db import Database
from shop.core.errors import Conflict, DependencyDown, InvalidInput, Problem
from shop.core.timeutil import utcnow
from shop.fulfilment import countries
from shop.orders import service as orders
from shop.orders.models import Order, OrderLine
from shop.payments.interface import (
    Gateway,
    GatewayUnavailable,
    InvalidPaymentToken,
    PaymentRequest,
    PaymentStatus,
)

log = logging.getLogger(__name__)

ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country")
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class CheckoutRequest:
    email: str
    shipping_address: dict[str, str]
    gateway: str
    token: str
    shipping_option: str | None = None


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    replayed: bool  # True when an earlier request with the same Idempotency-Key made it
    client_secret: str | None = None  # for a browser that must finish the payment (3-D Secure)


def parse_request(data: dict[str, Any], gateway: Gateway) -> CheckoutRequest:
    """Validate the checkout body fully before any stock is touched."""
    email = validation.email(data)
    address = data.get("shipping_address")
    if not isinstance(address, dict):
        raise InvalidInput("'shipping_address' must be an object with "
                           f"{', '.join(ADDRESS_FIELDS)}")
    shipping = {field: validation.text(address, field, max_length=200)
                for field in ADDRESS_FIELDS}
    if "line2" in address:
        shipping["line2"] = validation.text(address, "line2", max_length=200, required=False)
    shipping["country"] = countries.parse_country(shipping["country"],
                                                  "shipping_address.country")
    payment = data.get("payment")
    if not isinstance(payment, dict):
        raise InvalidInput("'payment' must be an object like "
                           f"{{\"gateway\": \"{gateway.name}\", \"token\": \"...\"}}")
    gateway_name = validation.text(payment, "gateway", max_length=32)
    if gateway_name != gateway.name:
        raise InvalidInput(f"this shop takes payments through '{gateway.name}': "
                           f"got {gateway_name!r}", code="unsupported_gateway")
    token = validation.text(payment, "token", max_length=255)
    try:
        gateway.check_token(token)
    except InvalidPaymentToken as problem:
        raise InvalidInput(str(problem), code="invalid_payment_token") from None
    return CheckoutRequest(email, shipping, gateway_name, token,
                           shipping_option=pricing.parse_option_id(data))


def parse_idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                           code="invalid_idempotency_key")
    return key


def checkout(database: Database, redis_client, gateway: Gateway, *, cart_id: str,
             request: CheckoutRequest, idempotency_key: str | None,
             reservation_ttl_s: int) -> CheckoutResult:
    """Turn a cart into an order: reserved, paid (or refused), and queued."""
    if idempotency_key:
        # Looked up before the cart: a paid checkout deletes its cart, and its retry must
        # still get the order back.
        earlier = _order_for_cart(database, cart_id, idempotency_key)
        if earlier is not None:
            return _replay(database, gateway, earlier, cart_id, request, redis_client)
    cart = carts.load_cart(redis_client, cart_id)
    try:
        order = _reserve(database, cart, request, idempotency_key, reservation_ttl_s)
    except sqlalchemy.exc.IntegrityError:
        # A concurrent retry with the same Idempotency-Key won the race: answer with its order.
        earlier = _order_for_key(database, cart.merchant_id, idempotency_key or "")
        if earlier is None:
            raise
        return _replay(database, gateway, earlier, cart_id, request, redis_client)
    order, client_secret = _pay(database, gateway, order, request)
    if order.status in ("paid", "pending_payment"):
        carts.delete_cart(redis_client, cart_id)
    return CheckoutResult(order, replayed=False, client_secret=client_secret)


def _order_for_cart(database: Database, cart_id: str, key: str) -> Order | None:
    with database.reading() as session:
        return session.scalar(select(Order).where(Order.cart_id == cart_id,
                                                  Order.idempotency_key == key))


def _order_for_key(database: Database, merchant_id: int, key: str) -> Order | None:
    with database.reading() as session:
        return session.scalar(select(Order).where(Order.merchant_id == merchant_id,
                                                  Order.idempotency_key == key))


def _replay(database: Database, gateway: Gateway, order: Order, cart_id: str,
            request: CheckoutRequest, redis_client) -> CheckoutResult:
    if order.cart_id != cart_id:
        raise Problem("this Idempotency-Key was already used for another cart: use a new key "
                      "for a new checkout", code="idempotency_key_reused", status=422)
    client_secret = None
    if order.status == "pending_payment" and order.payment_reference is None:
        # The first attempt never heard back from the gateway: finish its payment now.
        order, client_secret = _pay(database, gateway, order, request)
        if order.status == "paid":
            carts.delete_cart(redis_client, cart_id)
    return CheckoutResult(order, replayed=True, client_secret=client_secret)


def _reserve(database: Database, cart: carts.Cart, request: CheckoutRequest,
             idempotency_key: str | None, reservation_ttl_s: int) -> Order:
    with database.transaction() as session:
        lines = carts.price_lines(session, cart)
        if not lines:
            raise InvalidInput("the cart is empty: add products before checking out",
                               code="empty_cart")
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
            idempotency_key=idempotency_key, email=request.email,
            shipping_address=request.shipping_address, status="pending_payment",
            total_amount=priced.total_amount, **priced.order_columns(),
            currency=lines[0].product.currency, payment_gateway=request.gateway,
            reservation_expires_at=utcnow() + timedelta(seconds=reservation_ttl_s),
            lines=[OrderLine(product_id=line.product.id, sku=line.product.sku,
                             name=line.product.name, quantity=line.quantity,
                             unit_price_amount=line.product.price_amount)
                   for line in lines],
        )
        session.add(order)
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


def _pay(database: Database, gateway: Gateway, order: Order,
         request: CheckoutRequest) -> tuple[Order, str | None]:
    payment = PaymentRequest(order_id=order.id, amount=order.total_amount,
                             currency=order.currency, token=request.token,
                             email=request.email, idempotency_key=f"order-{order.id}")
    try:
        result = gateway.charge(payment)
    except GatewayUnavailable as problem:
        log.warning("payment gateway unavailable for order %s: %s", order.id, problem)
        raise DependencyDown("the payment provider is unreachable; your order is kept — retry "
                             "with the same Idempotency-Key") from None
    with database.transaction() as session:
        if result.status is PaymentStatus.SUCCEEDED:
            orders.mark_paid(session, order.id, result.reference)
        elif result.status is PaymentStatus.FAILED:
            session.execute(update(Order).where(Order.id == order.id)
                            .values(payment_reference=result.reference))
            orders.mark_payment_failed(session, order.id, result.failure_reason or "declined")
        else:
            session.execute(update(Order).where(Order.id == order.id)
                            .values(payment_reference=result.reference))
        return session.get(Order, order.id, populate_existing=True), result.client_secret
