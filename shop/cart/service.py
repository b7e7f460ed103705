"""Carts in Redis: one hash per cart, refreshed on every change, gone after its TTL.

A cart holds quantities only; prices and availability are read live from the catalog, so a
cart never shows a stale price.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import NamedTuple

import redis
from redis.commands.core import Script
from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shop.catalog import service as catalog
from shop.catalog import variants
from shop.catalog.models import Product
from shop.core import redis_direct
from shop.core.db import Database
from shop.core.errors import Conflict, InvalidInput, NotFound
from shop.merchants.models import Merchant
from shop.orders.service import expire_reservations

KEY_PREFIX = "peakshop:cart:"
SHOP_FIELD = "_shop"
ITEM_PREFIX = "item:"
# The default cap on one line (PEAKSHOP_MAX_LINE_QUANTITY); checkout enforces it again.
MAX_QUANTITY = 100
# Past any stock a shop can hold: a number this large is a typo or an attack.
MAX_TYPED_QUANTITY = 10**9
MAX_LINES = 100


@dataclass(frozen=True)
class Cart:
    cart_id: str
    merchant_id: int
    quantities: dict[str, int]  # sku -> quantity


class CartProduct(NamedTuple):
    """What adding to a cart needs of a product, read as a Core row (no ORM entity)."""

    id: int
    sku: str
    name: str
    price_amount: int
    currency: str
    stock: int
    reserved: int
    parent_id: int | None
    has_variants: bool

    @property
    def available(self) -> int:
        return self.stock - self.reserved


@dataclass(frozen=True)
class PricedLine:
    product: Product | CartProduct
    quantity: int

    @property
    def line_total(self) -> int:
        return self.product.price_amount * self.quantity


class CartChange(NamedTuple):
    """A cart as stored after a change, its lines at today's prices, and whether the shop's
    prices include VAT (read in the same session as the prices)."""

    cart: Cart
    lines: list[PricedLine]
    prices_include_vat: bool


# Built once (add to cart is the hottest write of a peak): the cart's products on sale among
# `skus` and, in the same row, the shop's VAT convention; the outer join gives the shop's
# row even when none of the SKUs is sold. Parameters: merchant_id, skus.
_PRODUCTS = Product.__table__
_MERCHANTS = Merchant.__table__
_CART_PRODUCTS = (
    select(_MERCHANTS.c.prices_include_vat,
           *(_PRODUCTS.c[name] for name in CartProduct._fields))
    .select_from(_MERCHANTS.outerjoin(_PRODUCTS, and_(
        _PRODUCTS.c.merchant_id == _MERCHANTS.c.id,
        _PRODUCTS.c.sku.in_(bindparam("skus", expanding=True)),
        _PRODUCTS.c.archived_at.is_(None))))
    .where(_MERCHANTS.c.id == bindparam("merchant_id"))
)


# The same for a cart that holds at most the one SKU being set (most adds to a cart): at most
# one row, so it runs on the database's direct statements (a connection of the thread's own,
# straight on the driver), not through the pool. Parameters: merchant_id, sku.
ON_SALE_UNDER_SKU = and_(_PRODUCTS.c.merchant_id == _MERCHANTS.c.id,
                         _PRODUCTS.c.sku == bindparam("sku"),
                         _PRODUCTS.c.archived_at.is_(None))
_CART_PRODUCT = (
    select(_MERCHANTS.c.prices_include_vat,
           *(_PRODUCTS.c[name] for name in CartProduct._fields))
    .select_from(_MERCHANTS.outerjoin(_PRODUCTS, ON_SALE_UNDER_SKU))
    .where(_MERCHANTS.c.id == bindparam("merchant_id"))
)


def _products_of(database: Database, merchant_id: int,
                 skus: set[str]) -> tuple[dict[str, CartProduct], bool]:
    """`cart_products` for the SKUs `skus`, by the cheapest way the database allows."""
    if len(skus) == 1:
        (sku,) = skus
        row = database.statements.first(_CART_PRODUCT, {"merchant_id": merchant_id,
                                                        "sku": sku})
        gross = row is None or row[0] is not False
        if row is None or row[1] is None:
            return {}, gross
        return {sku: CartProduct(*row[1:])}, gross
    with database.read_connection() as connection:
        return cart_products(connection, merchant_id, sorted(skus))


def cart_products(connection: Connection, merchant_id: int,
                  skus: list[str]) -> tuple[dict[str, CartProduct], bool]:
    """The products on sale among `skus` (archived ones are left out, as if unknown) and
    whether the shop's prices include VAT (a shop that is gone counts as gross)."""
    products: dict[str, CartProduct] = {}
    gross = True
    for row in connection.execute(_CART_PRODUCTS, {"merchant_id": merchant_id, "skus": skus}):
        gross = row[0] is not False
        if row[1] is not None:
            product = CartProduct(*row[1:])
            products[product.sku] = product
    return products, gross


def _key(cart_id: str) -> str:
    return KEY_PREFIX + cart_id


def create_cart(client: redis.Redis, merchant_id: int, ttl_s: int) -> str:
    cart_id = uuid.uuid4().hex
    with client.pipeline() as pipe:
        pipe.hset(_key(cart_id), SHOP_FIELD, merchant_id)
        pipe.expire(_key(cart_id), ttl_s)
        pipe.execute()
    return cart_id


# Add to cart's two round trips (the read and the line's script) go on a connection of each
# thread's own.
_direct = redis_direct.for_client


def load_cart(client: redis.Redis, cart_id: str) -> Cart:
    if not _looks_like_id(cart_id):
        return _cart_from(cart_id, {})
    commands = _direct(client)
    if not commands.direct:
        return _cart_from(cart_id, client.hgetall(_key(cart_id)))
    return _cart_from(cart_id, _pairs(commands("HGETALL", _key(cart_id))))


def _pairs(reply: list | dict | None) -> dict:
    """A hash as Redis answers it: a map over RESP3, a flat list of fields and values over
    RESP2 and from a script, nil when it is gone."""
    if not reply:
        return {}
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _cart_from(cart_id: str, fields: dict[bytes, bytes]) -> Cart:
    if not fields or SHOP_FIELD.encode() not in fields:
        raise unknown_cart(cart_id)
    quantities = {name.decode()[len(ITEM_PREFIX):]: int(value)
                  for name, value in fields.items() if name.decode().startswith(ITEM_PREFIX)}
    return Cart(cart_id, int(fields[SHOP_FIELD.encode()]), quantities)


def unknown_cart(cart_id: str) -> NotFound:
    return NotFound(f"there is no cart {cart_id!r}: carts expire after a week without "
                    "changes; create a new one", code="unknown_cart")


_CART_ID = re.compile(r"[0-9a-f]{32}")


def _looks_like_id(cart_id: str) -> bool:
    return _CART_ID.fullmatch(cart_id) is not None


def parse_quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"'quantity' must be a whole number: got {value!r}")
    if value < 0 or value > MAX_TYPED_QUANTITY:
        raise InvalidInput(f"'quantity' must be from 0 (removes the line) to "
                           f"{MAX_TYPED_QUANTITY}: got {value}")
    return value


def check_line_cap(quantity: int, maximum: int) -> None:
    """422 `quantity_limit` when one line would hold more units than an order may take."""
    if quantity > maximum:
        raise InvalidInput(f"'quantity' must be at most {maximum}: one order takes at most "
                           f"{maximum} units of a product; got {quantity}",
                           code="quantity_limit", extra={"max_quantity": maximum})


def set_quantity(client: redis.Redis, database: Database, cart_id: str, sku: str,
                 quantity: int, ttl_s: int, *,
                 max_quantity: int = MAX_QUANTITY) -> CartChange:
    """Put `quantity` of `sku` in the cart (0 removes it); 409 when the shop has fewer.

    Returns the cart as stored, its lines at today's prices and the shop's VAT convention.
    Adding to a cart is the
    hottest write of a peak: one catalog query prices the cart and checks the product,
    and the write reads the cart back in the same Redis round trip.
    """
    check_line_cap(quantity, max_quantity)
    cart = load_cart(client, cart_id)
    asked = {*cart.quantities, sku}
    products, gross = _products_of(database, cart.merchant_id, asked)
    product = products.get(sku)
    if product is None and not (quantity == 0 and sku in cart.quantities):
        # A line of a product no longer sold can still be removed; nothing else unknown.
        raise catalog.unknown_sku(sku)
    if quantity:
        variants.refuse_parent(product)
    if quantity == 0:
        updated = _write_line(client, cart_id, sku, 0, ttl_s)
        return CartChange(updated, _priced(database, updated, products, asked), gross)
    if quantity > product.available:
        # Abandoned checkouts may still hold units past their expiry: free those first.
        with database.transaction() as session:
            expire_reservations(session, product_ids=[product.id])
            product = catalog.get_product(session, cart.merchant_id, sku)
    if quantity > product.available:
        raise Conflict(f"only {product.available} of {sku!r} available: lower the quantity",
                       code="insufficient_stock",
                       extra={"sku": sku, "available": product.available})
    if sku not in cart.quantities and len(cart.quantities) >= MAX_LINES:
        raise InvalidInput(f"a cart holds at most {MAX_LINES} different products")
    currencies = {products[line].currency for line in cart.quantities if line in products}
    if currencies and product.currency not in currencies:
        raise Conflict(f"the cart is priced in {currencies.pop()}; {sku!r} is priced in "
                       f"{product.currency}", code="currency_mismatch")
    updated = _write_line(client, cart_id, sku, quantity, ttl_s)
    return CartChange(updated, _priced(database, updated, {**products, sku: product}, asked),
                      gross)


# Store one line (quantity 0 deletes it), refresh the TTL and read the cart back: one
# command, atomic, where MULTI/HSET/EXPIRE/HGETALL/EXEC were five. A cart that expired since
# it was read is left alone (nil), instead of being recreated without its shop.
# KEYS: the cart. ARGV: the line's field, the quantity, the TTL in seconds.
_WRITE_LINE = b"""
if redis.call('HEXISTS', KEYS[1], '%s') == 0 then return false end
if ARGV[2] == '0' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return redis.call('HGETALL', KEYS[1])
""" % SHOP_FIELD.encode()
# redis-py's Script: EVALSHA, and SCRIPT LOAD once where a server does not know it yet (as
# bytes, it needs no client to be built; each call names its client).
_WRITE_LINE_SCRIPT = Script(None, _WRITE_LINE)


def _write_line(client: redis.Redis, cart_id: str, sku: str, quantity: int,
                ttl_s: int) -> Cart:
    """Store one line (0 deletes it), refresh the TTL and read the cart back, atomically."""
    key, args = _key(cart_id), (ITEM_PREFIX + sku, quantity, ttl_s)
    commands = _direct(client)
    if not commands.direct:
        return _cart_from(cart_id, _pairs(_WRITE_LINE_SCRIPT(keys=[key], args=args,
                                                             client=client)))
    try:
        flat = commands("EVALSHA", _WRITE_LINE_SCRIPT.sha, 1, key, *args)
    except redis.exceptions.NoScriptError:  # a server that does not know it yet
        client.script_load(_WRITE_LINE)
        flat = commands("EVALSHA", _WRITE_LINE_SCRIPT.sha, 1, key, *args)
    return _cart_from(cart_id, _pairs(flat))


def _priced(database: Database, cart: Cart, known: dict[str, Product | CartProduct],
            asked: set[str]) -> list[PricedLine]:
    """The cart's lines priced from the products read for the SKUs `asked`; only a line
    another request added meanwhile is read again. Products removed from sale drop out."""
    if not set(cart.quantities) <= asked:
        with database.reading() as session:
            return price_lines(session, cart)
    return [PricedLine(known[sku], quantity)
            for sku, quantity in sorted(cart.quantities.items()) if sku in known]


def price_lines(session: Session, cart: Cart) -> list[PricedLine]:
    """The cart's lines at today's prices; products removed from sale drop out."""
    if not cart.quantities:
        return []
    products = catalog.products_by_sku(session, cart.merchant_id, list(cart.quantities))
    return [PricedLine(products[sku], quantity)
            for sku, quantity in sorted(cart.quantities.items()) if sku in products]


def price_rows(connection: Connection, cart: Cart) -> tuple[list[PricedLine], bool]:
    """`price_lines` from Core rows, on `connection` (in its transaction, if any), and
    whether the shop's prices include VAT: one prebuilt statement and no ORM entities, for
    checkout, which reads a cart's products once and never changes them."""
    if not cart.quantities:
        return [], True
    products, gross = cart_products(connection, cart.merchant_id, sorted(cart.quantities))
    return [PricedLine(products[sku], quantity)
            for sku, quantity in sorted(cart.quantities.items()) if sku in products], gross


def shop_currency(session: Session, merchant_id: int) -> str:
    """The currency the cart's shop sells in."""
    return session.scalar(select(Merchant.currency).where(Merchant.id == merchant_id)) or "EUR"


def delete_cart_command(cart_id: str) -> tuple:
    """The command that deletes the cart, to be sent with others in one round trip."""
    return ("DEL", _key(cart_id))
