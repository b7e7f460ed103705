"""Products: create, update, list, look up. Plain functions over a Session."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import sqlalchemy.exc
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shop.catalog import variants
from shop.catalog.models import Product
from shop.core import validation
from shop.core.errors import Conflict, InvalidInput, NotFound, Problem
from shop.core.timeutil import utcnow
from shop.merchants.models import Merchant

MAX_PAGE = 100
DEFAULT_PAGE = 20
MAX_STOCK = 10**9
SKU_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
# A product's URL ends in its SKU: these name other things there (the catalog's own
# `products/export` and `products/import`) or nothing at all (a browser or any HTTP client
# resolves the dot segments away), so a product under them could never be reached.
UNREACHABLE_SKUS = frozenset({".", "..", "export", "import"})


@dataclass(frozen=True)
class Page:
    items: list[Product]
    next_cursor: str | None


def _sku(data: dict[str, Any]) -> str:
    sku = validation.text(data, "sku", max_length=64)
    if not set(sku) <= SKU_CHARACTERS:
        raise InvalidInput(f"'sku' may hold only letters, digits, '-', '_' and '.': got {sku!r}")
    if sku in UNREACHABLE_SKUS:
        raise InvalidInput(f"'sku' {sku!r} cannot be a product's: its URL would name something "
                           "else; choose another, e.g. with a prefix or suffix")
    return sku


def create_product(session: Session, merchant_id: int, data: dict[str, Any]) -> Product:
    """Put a new product (and its variants) on sale; 409 when the shop already has a SKU."""
    sku = _sku(data)
    amount, currency = _price(session, merchant_id, data)
    specs = variants.parse_variants(data, sku, amount, currency, _sku)
    if specs and data.get("stock") not in (None, 0):
        raise InvalidInput("a product with variants holds no stock itself: give each variant "
                           "its 'stock' and leave the product's out")
    product = Product(
        merchant_id=merchant_id, sku=sku, **_described(data),
        price_amount=amount, currency=currency,
        stock=0 if specs else validation.integer(data, "stock", minimum=0, maximum=MAX_STOCK),
        reserved=0, has_variants=bool(specs),
    )
    wanted = [sku, *(spec.sku for spec in specs)]
    taken = session.scalar(select(Product.sku).where(Product.merchant_id == merchant_id,
                                                     Product.sku.in_(wanted)).limit(1))
    if taken is not None:
        raise Conflict(f"SKU {taken!r} already exists: update it with PATCH instead",
                       code="sku_taken")
    try:
        session.add(product)
        session.flush()
        if specs:
            variants.create_variants(session, product, specs)
    except sqlalchemy.exc.IntegrityError:
        # A concurrent request took one of the SKUs between the check and the insert.
        raise Conflict(f"one of the SKUs {', '.join(wanted)} was just taken by another "
                       "request: read the product and update it with PATCH instead",
                       code="sku_taken") from None
    return product


def _described(data: dict[str, Any]) -> dict[str, Any]:
    """Name, description and category of a new product, validated."""
    return {"name": validation.text(data, "name"),
            "description": validation.text(data, "description", max_length=5000,
                                           required=False, default=""),
            "category": validation.text(data, "category", max_length=100,
                                        required=False) or None}


def new_product_columns(data: dict[str, Any], shop_currency: str) -> dict[str, Any]:
    """The validated columns of a new product without variants, with no database access: for
    callers that create many at once and check SKUs themselves (the CSV import)."""
    if data.get("variants"):
        raise InvalidInput("variants are created one product at a time: POST the product")
    amount, currency = price_in(shop_currency, data)
    return {"sku": _sku(data), **_described(data), "price_amount": amount,
            "currency": currency, "reserved": 0, "has_variants": False,
            "stock": validation.integer(data, "stock", minimum=0, maximum=MAX_STOCK)}


def shop_currency_of(session: Session, merchant_id: int) -> str:
    return session.scalar(select(Merchant.currency).where(Merchant.id == merchant_id))


def _price(session: Session, merchant_id: int, data: dict[str, Any]) -> tuple[int, str]:
    return price_in(shop_currency_of(session, merchant_id), data)


def price_in(shop_currency: str, data: dict[str, Any]) -> tuple[int, str]:
    """The product's price, in the one currency the shop sells in (422 otherwise)."""
    amount, currency = validation.money(data, "price", default_currency=shop_currency)
    if currency != shop_currency:
        # One order is paid in one currency: a product in another could never share a cart.
        raise InvalidInput(f"this shop sells in {shop_currency}: price the product in "
                           f"{shop_currency}, got {currency}", code="currency_mismatch",
                           extra={"shop_currency": shop_currency})
    return amount, currency


UPDATABLE = {"name", "description", "category", "price", "stock", "stock_delta"}


def update_product(session: Session, merchant_id: int, sku: str,
                   data: dict[str, Any]) -> Product:
    """Change any of name, description, category, price and stock (absolute or a delta)."""
    unknown = sorted(set(data) - UPDATABLE)
    if unknown:
        raise InvalidInput(f"cannot update {', '.join(unknown)}: updatable are "
                           f"{', '.join(sorted(UPDATABLE))}")
    if "stock" in data and "stock_delta" in data:
        raise InvalidInput("send either 'stock' (units on hand) or 'stock_delta', not both")
    product = get_product(session, merchant_id, sku)
    if product.has_variants and ("stock" in data or "stock_delta" in data):
        raise stock_on_a_parent(sku)
    changes = product_changes(data, shop_currency_of(session, merchant_id)
                              if "price" in data else "")
    if changes:
        session.execute(update(Product).where(Product.id == product.id).values(**changes))
    if "stock" in data:
        _set_stock(session, product, validation.integer(data, "stock", minimum=0,
                                                        maximum=MAX_STOCK))
    if "stock_delta" in data:
        _adjust_stock(session, product, validation.integer(data, "stock_delta",
                                                           minimum=-MAX_STOCK,
                                                           maximum=MAX_STOCK))
    session.refresh(product)
    return product


def product_changes(data: dict[str, Any], shop_currency: str) -> dict[str, Any]:
    """The validated columns that `data` changes among name, description, category and
    price (stock aside); no database access."""
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = validation.text(data, "name")
    if "description" in data:
        changes["description"] = validation.text(data, "description", max_length=5000,
                                                 required=False, default="") or ""
    if "category" in data:
        changes["category"] = validation.text(data, "category", max_length=100,
                                              required=False) or None
    if "price" in data:
        changes["price_amount"], changes["currency"] = price_in(shop_currency, data)
    return changes


def stock_on_a_parent(sku: str) -> InvalidInput:
    return InvalidInput(f"{sku!r} has variants and holds no stock itself: change the stock "
                        "of each variant by its own SKU", code="variant_required")


def stock_below_reserved(reserved: int) -> Problem:
    return Problem(f"stock cannot go below the {reserved} units reserved by open orders: set "
                   "at least that, or wait until they are confirmed",
                   code="stock_below_reserved", status=409)


def _set_stock(session: Session, product: Product, stock: int) -> None:
    # One conditional UPDATE: reservations made meanwhile are never pushed above stock.
    result = session.execute(update(Product)
                             .where(Product.id == product.id, Product.reserved <= stock)
                             .values(stock=stock))
    if result.rowcount != 1:
        session.refresh(product)
        raise stock_below_reserved(product.reserved)


def _adjust_stock(session: Session, product: Product, delta: int) -> None:
    result = session.execute(update(Product)
                             .where(Product.id == product.id,
                                    Product.stock + delta >= Product.reserved)
                             .values(stock=Product.stock + delta))
    if result.rowcount != 1:
        session.refresh(product)
        raise Problem(f"a change of {delta} would leave fewer units than the "
                      f"{product.reserved} reserved by open orders",
                      code="stock_below_reserved", status=409)


def get_product(session: Session, merchant_id: int, sku: str) -> Product:
    product = session.scalar(select(Product).where(Product.merchant_id == merchant_id,
                                                   Product.sku == sku))
    if product is None:
        raise unknown_sku(sku)
    return product


def unknown_sku(sku: str) -> NotFound:
    """The 404 for a SKU the shop does not sell."""
    return NotFound(f"the shop has no product with SKU {sku!r}", code="unknown_sku")


def products_by_sku(session: Session, merchant_id: int, skus: list[str]) -> dict[str, Product]:
    """The products on sale among `skus` (archived ones are left out, as if unknown)."""
    rows = session.scalars(select(Product).where(Product.merchant_id == merchant_id,
                                                 Product.sku.in_(skus),
                                                 Product.archived_at.is_(None)))
    return {product.sku: product for product in rows}


def encode_cursor(product_id: int) -> str:
    return base64.urlsafe_b64encode(str(product_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        product_id = int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        product_id = -1
    # Ids are 64-bit: anything else was never handed out (and SQLite overflows on it).
    if not 0 <= product_id < 2**63:
        raise InvalidInput("'cursor' is not one this API gave out: pass the 'next_cursor' of "
                           "the previous page", code="invalid_cursor")
    return product_id


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE
    # isascii: str.isdigit() also takes "²", which int() cannot read.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"'limit' must be a whole number from 1 to {MAX_PAGE}: got {raw!r}")
    return int(raw)


def list_products(session: Session, merchant_id: int, *, query: str | None = None,
                  category: str | None = None, limit: int = DEFAULT_PAGE,
                  cursor: str | None = None, archived: bool = False) -> Page:
    """One page of the shop's products in a stable order, filtered by text and category;
    the products on sale, or with `archived` only the archived ones."""
    rows = list(session.scalars(listing_statement(
        select(Product), merchant_id, query=query, category=category, limit=limit,
        cursor=cursor, archived=archived)))
    has_more = len(rows) > limit
    items = rows[:limit]
    return Page(items, encode_cursor(items[-1].id) if has_more else None)


def listing_statement(statement, merchant_id: int, *, query: str | None, category: str | None,
                      limit: int, cursor: str | None, archived: bool = False):
    """`statement` (entities or columns of products) narrowed to one page of the listing,
    one row more than `limit` to tell whether a next page exists."""
    # Variants are listed under their product, not as products of their own.
    statement = statement.where(Product.merchant_id == merchant_id,
                                Product.parent_id.is_(None),
                                Product.archived_at.is_not(None) if archived
                                else Product.archived_at.is_(None))
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(or_(Product.name.ilike(pattern, escape="\\"),
                                        Product.sku.ilike(pattern, escape="\\"),
                                        Product.description.ilike(pattern, escape="\\")))
    if category:
        statement = statement.where(Product.category == category)
    if cursor:
        statement = statement.where(Product.id > decode_cursor(cursor))
    return statement.order_by(Product.id).limit(limit + 1)


def categories(session: Session, merchant_id: int, *,
               include_archived: bool = False) -> list[str]:
    """The categories of the shop's products on sale (and of archived ones if asked)."""
    statement = select(Product.category).distinct().where(Product.merchant_id == merchant_id,
                                                          Product.category.is_not(None))
    if not include_archived:
        statement = statement.where(Product.archived_at.is_(None))
    return list(session.scalars(statement.order_by(Product.category)))


def archive_product(session: Session, merchant_id: int, sku: str) -> Product:
    """Take a product (with its variants) off sale, keeping it for past orders; idempotent.

    Orders already placed keep their lines and reservations: archiving stops new sales only.
    """
    product = get_product(session, merchant_id, sku)
    if product.archived_at is None:
        session.execute(update(Product)
                        .where(Product.merchant_id == merchant_id,
                               or_(Product.id == product.id, Product.parent_id == product.id),
                               Product.archived_at.is_(None))
                        .values(archived_at=utcnow()))
        session.refresh(product)
    return product


def restore_product(session: Session, merchant_id: int, sku: str) -> Product:
    """Put an archived product (with its variants) back on sale; idempotent."""
    product = get_product(session, merchant_id, sku)
    if product.parent_id is not None:
        parent = session.get(Product, product.parent_id)
        if parent is not None and parent.archived_at is not None:
            raise Conflict(f"{sku!r} is a variant of the archived product {parent.sku!r}: "
                           f"restore {parent.sku!r} first", code="parent_archived")
    if product.archived_at is not None:
        session.execute(update(Product)
                        .where(Product.merchant_id == merchant_id,
                               or_(Product.id == product.id, Product.parent_id == product.id))
                        .values(archived_at=None))
        session.refresh(product)
    return product
