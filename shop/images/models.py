"""A product's images: one row per upload, with the renditions stored for it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.core.db import Base
from shop.core.timeutil import utcnow


class ProductImage(Base):
    """An image of a product, shown in `position` order (lowest first; the first is the
    product's main picture). The files are in the media store under the keys of
    `renditions`: `[{"width", "height", "key", "bytes"}]`, narrowest first."""

    __tablename__ = "product_images"
    # Positions are 0, 1, 2, ... per product: dense (service.renumber) and unique (here).
    __table_args__ = (Index("uq_product_images_product_position", "product_id", "position",
                            unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    position: Mapped[int] = mapped_column(default=0)
    alt: Mapped[str] = mapped_column(String(500))
    width: Mapped[int]
    height: Mapped[int]
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
