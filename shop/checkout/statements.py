"""The SQL of checkout's hot path, built once at import and executed with parameters.

A statement built per request costs more CPU than the database spends running it: SQLAlchemy
coerces every column and value anew, and the ORM adds its unit-of-work bookkeeping. Built
once, a statement only has its cache key computed (its compiled form is cached by the
engine) and PostgreSQL's driver prepares it after a few runs per connection.
"""

from __future__ import annotations

import functools

from sqlalchemy import (
    Numeric,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import Insert

from shop.cart.service import ON_SALE_UNDER_SKU, CartProduct
from shop.catalog.models import Product
from shop.fulfilment.shipping import CARRIERS
from shop.merchants.models import Merchant
from shop.orders.models import Order, OrderLine

ORDERS = Order.__table__
ORDER_LINES = OrderLine.__table__
PRODUCTS = Product.__table__

# The orders that decide before anything is reserved: the one this Idempotency-Key made for
# the cart (a replay), and the live one claiming it. A None key matches no order (NULL = NULL
# is never true). Parameters: cart_id, key.
EARLIER_ORDERS = (select(ORDERS.c.id, ORDERS.c.idempotency_key, ORDERS.c.cart_claim,
                         ORDERS.c.status)
                  .where(ORDERS.c.cart_id == bindparam("cart_id"),
                         or_(ORDERS.c.cart_claim == bindparam("cart_id"),
                             ORDERS.c.idempotency_key == bindparam("key"))))

# What pricing needs of the shop, in one round trip: whether its prices include VAT (every
# row), and its carriers that are up and have room, preferred first (none: one row of NULL
# carrier columns). Parameters: merchant_id.
MERCHANTS = Merchant.__table__
_USABLE_CARRIER = and_(CARRIERS.c.merchant_id == MERCHANTS.c.id, CARRIERS.c.is_down.is_(False),
                       CARRIERS.c.daily_capacity > 0)
SHOP_PRICING = (select(MERCHANTS.c.prices_include_vat.label("shop_prices_include_vat"),
                       CARRIERS)
                .select_from(MERCHANTS.outerjoin(CARRIERS, _USABLE_CARRIER))
                .where(MERCHANTS.c.id == bindparam("merchant_id"))
                .order_by(CARRIERS.c.priority, CARRIERS.c.id))

# Everything a checkout of one product reads, in one round trip (the direct path): whether an
# earlier order of the cart decides (a replay of this key, or a live order claiming the cart:
# EARLIER_ORDERS, left to the transaction's path to answer), SHOP_PRICING's columns, and the
# product on sale under the SKU as the cart reads it (`ONE_PRODUCT_COLUMNS`, all NULL when
# there is none). One row per usable carrier, or one. Parameters: merchant_id, sku, cart_id,
# key.
ONE_PRODUCT_COLUMNS = slice(2, 2 + len(CartProduct._fields))


def _carriers_fingerprint(merchant_id):
    """A number that changes with any change to any of the shop's carriers (an order-free
    sum of each row's hash, computed by PostgreSQL): what the carriers were when read."""
    every = CARRIERS.alias("fingerprinted")
    return (select(func.coalesce(func.sum(func.hashtextextended(
                literal_column("fingerprinted::text"), 0)), 0))
            .where(every.c.merchant_id == merchant_id)
            .scalar_subquery())


ONE_PRODUCT_CHECKOUT = (
    select(exists(EARLIER_ORDERS).label("decided_before"),
           MERCHANTS.c.prices_include_vat.label("shop_prices_include_vat"),
           *(PRODUCTS.c[name].label("product_" + name) for name in CartProduct._fields),
           CARRIERS,
           _carriers_fingerprint(bindparam("merchant_id")).label("carriers_fingerprint"))
    .select_from(MERCHANTS.outerjoin(PRODUCTS, ON_SALE_UNDER_SKU)
                 .outerjoin(CARRIERS, _USABLE_CARRIER))
    .where(MERCHANTS.c.id == bindparam("merchant_id"))
    .order_by(CARRIERS.c.priority, CARRIERS.c.id))

# Hold `b_quantity` units of a product if that many are free, atomically, as of `b_now` (the
# product's `updated_at`, given rather than left to the column's onupdate: a statement run
# inside another, as in `reserve_one_line`, takes no value SQLAlchemy makes per execution).
# Parameters: b_product, b_quantity, b_now (not column names: SQLAlchemy keeps those for
# the SET clause).
HOLD = (update(PRODUCTS)
        .where(PRODUCTS.c.id == bindparam("b_product"),
               PRODUCTS.c.stock - PRODUCTS.c.reserved >= bindparam("b_quantity"))
        .values(reserved=PRODUCTS.c.reserved + bindparam("b_quantity"),
                updated_at=bindparam("b_now", type_=PRODUCTS.c.updated_at.type)))

# Give back `b_quantity` held units (a checkout that fell short on another line).
UNHOLD = (update(PRODUCTS).where(PRODUCTS.c.id == bindparam("b_product"))
          .values(reserved=PRODUCTS.c.reserved - bindparam("b_quantity")))

FREE_UNITS = select(PRODUCTS.c.stock - PRODUCTS.c.reserved).where(
    PRODUCTS.c.id == bindparam("b_product"))

# Parameters: every column of the row.
INSERT_ORDER = insert(ORDERS)
INSERT_ORDER_LINES = insert(ORDER_LINES)


def _order_then_line(order_columns: tuple[str, ...], line_columns: tuple[str, ...],
                     only_if=None) -> Insert:
    """The order, then its one line with the id the order's INSERT returned (a data-modifying
    CTE); the order only if `only_if` holds, when given. Parameters: "o_<column>" for the
    order's, "l_<column>" for the line's (SQLAlchemy keeps the bare names for the VALUES
    clause). Returns the order's id."""
    values = select(*(bindparam("o_" + name, type_=ORDERS.c[name].type)
                      for name in order_columns))
    new_order = (insert(ORDERS)
                 .from_select(list(order_columns),
                              values if only_if is None else values.where(only_if))
                 .returning(ORDERS.c.id).cte("new_order"))
    return (insert(ORDER_LINES)
            .from_select(["order_id", *line_columns], select(
                new_order.c.id, *(bindparam("l_" + name, type_=ORDER_LINES.c[name].type)
                                  for name in line_columns)))
            .returning(ORDER_LINES.c.order_id))


@functools.cache
def insert_order_and_line(order_columns: tuple[str, ...],
                          line_columns: tuple[str, ...]) -> Insert:
    """The order and its one line in one statement, on PostgreSQL: one round trip fewer for
    the usual checkout, a cart of one product. Built once per set of columns written."""
    return _order_then_line(order_columns, line_columns)


@functools.cache
def reserve_one_line(order_columns: tuple[str, ...],
                     line_columns: tuple[str, ...]) -> Insert:
    """A one-line order made whole in one statement, on PostgreSQL: the line's units held if
    that many are free (HOLD), then the order inserted only if they were, then its line.

    Run in autocommit it is a transaction of its own: no BEGIN and COMMIT round trips, and
    the product row every shopper of a launch wants is locked only while it runs. Either all
    of it happens or none: no row returned means the stock fell short (nothing written), and
    a cart already claimed fails the order's unique index, taking the hold back with it.
    Parameters: HOLD's, and the order's and line's as in `_order_then_line`. Returns the
    order's id.
    """
    held = FACTS_HOLD.returning(PRODUCTS.c.id).cte("held")
    return _order_then_line(order_columns, line_columns, only_if=exists(select(held.c.id)))


# HOLD, on condition that everything the checkout priced and sold by is still so: the
# product's columns as ONE_PRODUCT_CHECKOUT read them (stock and reservations aside, HOLD
# decides on those itself), the product still on sale, the shop's VAT convention, and its
# carriers' fingerprint. Whether the facts were read a moment ago or remembered from an
# earlier checkout (shop/checkout/sale_facts.py), an order is only ever made on facts that
# hold when it is written. Parameters: HOLD's, and b_merchant, b_vat, b_carriers and
# "b_product_<column>" for each of SOLD_BY.
SOLD_BY = tuple(name for name in CartProduct._fields if name not in ("id", "stock", "reserved"))
FACTS_HOLD = HOLD.where(
    PRODUCTS.c.merchant_id == bindparam("b_merchant"),
    PRODUCTS.c.archived_at.is_(None),
    *(PRODUCTS.c[name].is_not_distinct_from(
        bindparam("b_product_" + name, type_=PRODUCTS.c[name].type)) for name in SOLD_BY),
    exists(select(MERCHANTS.c.id).where(
        MERCHANTS.c.id == bindparam("b_merchant"),
        MERCHANTS.c.prices_include_vat.is_not_distinct_from(
            bindparam("b_vat", type_=MERCHANTS.c.prices_include_vat.type)))),
    _carriers_fingerprint(bindparam("b_merchant"))
    == bindparam("b_carriers", type_=Numeric()))
