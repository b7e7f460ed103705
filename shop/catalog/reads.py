"""The shopper's read paths: Core queries, no ORM.

The product page is what a Christmas crowd hits most, so it skips the ORM's identity map and
unit of work (several times the cost of the query itself) and reads exactly the columns the
page shows: shop, product and the product's images in one statement (an outer join, one row
per image; measured cheaper than a second query, which cost every render a round trip and a
statement of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from shop.catalog.models import Product
from shop.catalog.service import Page, encode_cursor, listing_statement
from shop.core.errors import NotFound
from shop.images.models import ProductImage
from shop.images.service import ImageView, view_of
from shop.images.storage import MediaStore
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
    images: tuple[ImageView, ...] = field(default=())  # in page order, the main one first


_PRODUCT_COLUMNS = 13  # ProductView's fields up to `images`, in the statement's order
_PRODUCT_PAGE = (
    select(Product.sku, Product.name, Product.description, Product.category,
           Product.price_amount, Product.currency,
           (Product.stock - Product.reserved).label("available"), Merchant.name,
           Product.id, Product.parent_id, Product.options, Product.has_variants,
           Merchant.prices_include_vat,
           ProductImage.id, ProductImage.product_id, ProductImage.position, ProductImage.alt,
           ProductImage.width, ProductImage.height, ProductImage.renditions)
    .join(Merchant, Merchant.id == Product.merchant_id)
    .outerjoin(ProductImage, ProductImage.product_id == Product.id)
    .where(Merchant.slug == bindparam("slug"), Product.sku == bindparam("sku"),
           Product.archived_at.is_(None))  # an archived product is off sale
    .order_by(ProductImage.position, ProductImage.id)
)
_SHOP_EXISTS = select(Merchant.id).where(Merchant.slug == bindparam("slug"))


@dataclass(frozen=True)
class _ImageRow:
    id: int
    product_id: int
    position: int
    alt: str
    width: int
    height: int
    renditions: list


def product_view(connection: Connection, slug: str, sku: str,
                 store: MediaStore | None = None) -> ProductView:
    """The product as a shopper sees it, with live availability and, given the media
    `store` their URLs come from, its images; 404 names what is missing."""
    rows = connection.execute(_PRODUCT_PAGE, {"slug": slug, "sku": sku}).all()
    if rows:
        first = rows[0]
        images = () if store is None or first[_PRODUCT_COLUMNS] is None else tuple(
            view_of(_ImageRow(*row[_PRODUCT_COLUMNS:]), store) for row in rows)
        return ProductView(*first[:_PRODUCT_COLUMNS], images=images)
    if connection.execute(_SHOP_EXISTS, {"slug": slug}).first() is None:
        raise NotFound(f"there is no shop '{slug}'")
    raise NotFound(f"the shop has no product with SKU {sku!r}", code="unknown_sku")


@dataclass(frozen=True)
class ShopView:
    id: int
    slug: str
    name: str
    prices_include_vat: bool  # gross prices, or net with VAT added at checkout


_SHOP = select(Merchant.id, Merchant.slug, Merchant.name, Merchant.prices_include_vat).where(
    Merchant.slug == bindparam("slug"))
# What a listing shows of each product (and product_json reads), as plain rows.
_LISTED = select(Product.id, Product.sku, Product.name, Product.description, Product.category,
                 Product.price_amount, Product.currency,
                 (Product.stock - Product.reserved).label("available"), Product.parent_id,
                 Product.options, Product.has_variants)


def shop_view(connection: Connection, slug: str) -> ShopView:
    """The shop of `slug`; 404 when there is none."""
    row = connection.execute(_SHOP, {"slug": slug}).first()
    if row is None:
        raise NotFound(f"there is no shop '{slug}'")
    return ShopView(*row)


def listing(connection: Connection, merchant_id: int, *, query: str | None = None,
            category: str | None = None, limit: int, cursor: str | None = None) -> Page:
    """One page of the catalog as the shopper browses it (service.list_products' page, as
    rows: the same filters and order, without loading ORM entities)."""
    rows = connection.execute(listing_statement(_LISTED, merchant_id, query=query,
                                                category=category, limit=limit,
                                                cursor=cursor)).all()
    items = rows[:limit]
    return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)
