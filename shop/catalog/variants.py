"""Variants: the sizes and colours of one product, each a product row with its own SKU.

A variant has its own price (the parent's unless given), stock and reservations, so carts,
checkout, expiry and the no-oversell guarantee work per variant exactly as per product. The
parent is what the catalog lists; it holds no stock and cannot go into a cart itself.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.core import validation
from shop.core.errors import Conflict, InvalidInput

MAX_VARIANTS = 100
MAX_OPTIONS = 3  # e.g. size, colour, length
MAX_OPTION_NAME = 30
MAX_OPTION_VALUE = 50
OPTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
VARIANT_FIELDS = ("sku", "options", "price", "stock")


@dataclass(frozen=True)
class VariantSpec:
    sku: str
    options: dict[str, str]
    price_amount: int
    stock: int


@dataclass(frozen=True)
class VariantView:
    sku: str
    options: dict[str, str]
    price_amount: int
    currency: str
    available: int


def parse_options(value: object, where: str) -> dict[str, str]:
    """A small object of short strings: {"size": "38", "colour": "red"}."""
    example = '{"size": "38"}'
    if not isinstance(value, dict) or not value:
        raise InvalidInput(f"'{where}' must be an object of option names to values like "
                           f"{example}")
    if len(value) > MAX_OPTIONS:
        raise InvalidInput(f"'{where}' has {len(value)} options: at most {MAX_OPTIONS}")
    options = {}
    for name, raw in value.items():
        if len(name) > MAX_OPTION_NAME or not OPTION_NAME.match(name):
            raise InvalidInput(f"'{where}' option name {name[:40]!r} must be lower-case letters, "
                               f"digits and '_', at most {MAX_OPTION_NAME} characters, like "
                               "'size' or 'colour'")
        if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > MAX_OPTION_VALUE:
            raise InvalidInput(f"'{where}.{name}' must be a non-empty string of at most "
                               f"{MAX_OPTION_VALUE} characters: got {str(raw)[:60]!r}")
        options[name] = raw.strip()
    return options


def parse_variants(data: dict[str, Any], parent_sku: str, parent_price: int,
                   currency: str, parse_sku) -> list[VariantSpec]:
    """The `variants` of a new product, validated; [] when it has none."""
    raw = data.get("variants")
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("'variants' must be a non-empty list like "
                           '[{"sku": "SOCK-38", "options": {"size": "38"}, "stock": 5}]')
    if len(raw) > MAX_VARIANTS:
        raise InvalidInput(f"'variants' has {len(raw)} entries: a product has at most "
                           f"{MAX_VARIANTS}", code="too_many_variants")
    specs: list[VariantSpec] = []
    for index, entry in enumerate(raw):
        where = f"variants[{index}]"
        if not isinstance(entry, dict):
            raise InvalidInput(f"'{where}' must be an object with sku, options, price and stock")
        if "variants" in entry:
            raise InvalidInput(f"'{where}' cannot have variants of its own: a variant is one "
                               "size or colour; list every combination at the top level",
                               code="nested_variants")
        unknown = sorted(set(entry) - set(VARIANT_FIELDS))
        if unknown:
            raise InvalidInput(f"'{where}' has unknown field(s) {', '.join(unknown)}: a variant "
                               f"has {', '.join(VARIANT_FIELDS)}")
        try:
            sku = parse_sku(entry)
            price = validation.money(entry, "price", default_currency=currency, required=False)
            stock = validation.integer(entry, "stock", minimum=0, maximum=10**9)
        except InvalidInput as problem:
            raise InvalidInput(f"{where}: {problem.detail}", code=problem.code) from None
        if price is not None and price[1] != currency:
            raise InvalidInput(f"'{where}.price' is in {price[1]} but the product is priced in "
                               f"{currency}: a product's variants share its currency",
                               code="currency_mismatch")
        specs.append(VariantSpec(sku, parse_options(entry.get("options"), f"{where}.options"),
                                 price[0] if price else parent_price, stock))
    _refuse_duplicates(parent_sku, specs)
    return specs


def _refuse_duplicates(parent_sku: str, specs: list[VariantSpec]) -> None:
    skus = collections.Counter(spec.sku for spec in specs)
    skus[parent_sku] += 1
    repeated = sorted(sku for sku, count in skus.items() if count > 1)
    if repeated:
        raise Conflict(f"SKU {repeated[0]!r} is given more than once: every variant needs its "
                       "own SKU, different from the product's", code="sku_taken")
    combinations = collections.Counter(tuple(sorted(spec.options.items())) for spec in specs)
    twice = [dict(combo) for combo, count in combinations.items() if count > 1]
    if twice:
        raise InvalidInput(f"two variants have the same options {twice[0]}: each variant "
                           "must differ in at least one option", code="duplicate_variant")


def label(options: dict[str, str]) -> str:
    """'size 38, colour red': how a variant is named in carts and e-mails."""
    return ", ".join(f"{name} {value}" for name, value in options.items())


def create_variants(session: Session, parent: Product,
                    specs: list[VariantSpec]) -> list[Product]:
    rows = [Product(merchant_id=parent.merchant_id, sku=spec.sku,
                    name=f"{parent.name} ({label(spec.options)})"[:200],
                    description=parent.description, category=parent.category,
                    price_amount=spec.price_amount, currency=parent.currency,
                    stock=spec.stock, reserved=0, parent_id=parent.id, options=spec.options)
            for spec in specs]
    session.add_all(rows)
    session.flush()
    return rows


def refuse_parent(product: Product) -> None:
    """A product with variants is bought as one of them (the cart's and checkout's rule)."""
    if product.has_variants:
        raise InvalidInput(f"{product.sku!r} comes in variants: add the SKU of the size or "
                           "colour you want (the product's 'variants' list them)",
                           code="variant_required")


_VARIANTS = select(Product.parent_id, Product.sku, Product.options, Product.price_amount,
                   Product.currency, (Product.stock - Product.reserved).label("available"))


def variants_by_parent(connection: Connection | Session,
                       parent_ids: list[int]) -> dict[int, list[VariantView]]:
    """Each parent's variants in the order they were created, with live availability."""
    found: dict[int, list[VariantView]] = collections.defaultdict(list)
    if not parent_ids:
        return found
    rows = connection.execute(_VARIANTS.where(Product.parent_id.in_(parent_ids))
                              .order_by(Product.id))
    for row in rows:
        found[row.parent_id].append(VariantView(row.sku, row.options or {}, row.price_amount,
                                                row.currency, row.available))
    return found


def parent_sku(connection: Connection | Session, parent_id: int | None) -> str | None:
    if parent_id is None:
        return None
    return connection.execute(select(Product.sku).where(Product.id == parent_id)).scalar()
