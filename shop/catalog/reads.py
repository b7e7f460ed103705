"""The product page's read path: one Core query, no ORM.

The product page is what a Christmas crowd hits most, so it skips the ORM's identity map and
unit of work (several times the cost of the query itself) and reads exactly the columns the
page shows, shop and product in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from shop.catalog.models import Product
from shop.core.errors import NotFound
from shop.merchants.models import Merchant


@dataclass(frozen=True)
class ProductView:
    sku: str
    name: str
    description: str
    category: str | None
    price_amount: int
    currency: str
    available: int
    shop_name: str
    id: int
    parent_id: int | None
    options: dict | None
    has_variants: bool
    prices_include_vat: bool = True  # the shop's: gross, or net with VAT added at checkout


_PRODUCT_PAGE = (
    select(Product.sku, Product.name, Product.description, Product.category,
           Product.price_amount, Product.currency,
           (Product.stock - Product.reserved).label("available"), Merchant.name,
           Product.id, Product.parent_id, Product.options, Product.has_variants,
           Merchant.prices_include_vat)
    .join(Merchant, Merchant.id == Product.merchant_id)
    .where(Merchant.slug == bindparam("slug"), Product.sku == bindparam("sku"),
           Product.archived_at.is_(None))  # an archived product is off sale
)
_SHOP_EXISTS = select(Merchant.id).where(Merchant.slug == bindparam("slug"))


def product_view(connection: Connection, slug: str, sku: str) -> ProductView:
    """The product as a shopper sees it, with live availability; 404 names what is missing."""
    row = connection.execute(_PRODUCT_PAGE, {"slug": slug, "sku": sku}).first()
    if row is not None:
        return ProductView(*row)
    if connection.execute(_SHOP_EXISTS, {"slug": slug}).first() is None:
        raise NotFound(f"there is no shop '{slug}'")
    raise NotFound(f"the shop has no product with SKU {sku!r}", code="unknown_sku")
