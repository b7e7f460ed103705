"""Products about to run out: what a merchant should restock before the next peak."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.models import Product

LOW_STOCK_UNITS = 5  # at or below this many units a shopper can still buy, restock


def low_stock(session: Session, merchant_id: int, *, at_most: int = LOW_STOCK_UNITS,
              limit: int = 10) -> list[Product]:
    """Sellable products (variants included, not the rows that only group variants) with
    `at_most` units available or fewer, the emptiest first."""
    available = Product.stock - Product.reserved
    return list(session.scalars(
        select(Product).where(Product.merchant_id == merchant_id,
                              Product.has_variants.is_(False), available <= at_most)
        .order_by(available, Product.sku).limit(limit)))
