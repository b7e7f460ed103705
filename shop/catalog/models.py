"""Products and their stock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from shop.core.db import Base, MoneyAmount
from shop.core.timeutil import utcnow


class Product(Base):
    """A product on sale.

    `stock` counts units on hand not yet shipped; `reserved` counts units held by checkouts
    whose orders are not yet confirmed. What a shopper can still buy is `stock - reserved`,
    and the database itself refuses any write that would make it negative.
    """

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku", name="uq_products_merchant_sku"),
        Index("ix_products_merchant_category", "merchant_id", "category"),
        CheckConstraint("stock >= 0", name="ck_products_stock_nonnegative"),
        CheckConstraint("reserved >= 0", name="ck_products_reserved_nonnegative"),
        CheckConstraint("reserved <= stock", name="ck_products_reserved_within_stock"),
        CheckConstraint("price_amount >= 0", name="ck_products_price_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(100), nullable=True)
    price_amount: Mapped[int] = mapped_column(MoneyAmount)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    stock: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # A variant (a size, a colour) is a product row of its own with its own SKU, price and
    # stock, so carts, checkout and reservations work per variant unchanged; `parent_id`
    # ties it to the product the catalog lists, `options` says what it is ({"size": "38"}).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), nullable=True,
                                                  index=True)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # A product with variants is sold only as one of them: its own row holds no stock.
    has_variants: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Archived products are off sale but kept: past orders, reports and exports still name
    # them, and the merchant can put them back on sale. A product's variants share its state.
    archived_at: Mapped[datetime | None] = mapped_column(nullable=True)

    @property
    def available(self) -> int:
        return self.stock - self.reserved
