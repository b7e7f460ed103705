"""Request and response models of the cart API (they also write its OpenAPI entry)."""

from __future__ import annotations

from pydantic import Field

from shop.core.schemas import INT64_MAX, Money, RequestModel, ResponseModel


class SetQuantity(RequestModel):
    # The per-line cap is the shop's setting (PEAKSHOP_MAX_LINE_QUANTITY), checked with its
    # own problem code (quantity_limit); the schema bounds only what is a quantity at all.
    quantity: int = Field(ge=0, le=INT64_MAX, description="0 removes the line.")


class NewCart(ResponseModel):
    cart_id: str


class CartLine(ResponseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Money
    line_total: Money


class CartOut(ResponseModel):
    cart_id: str
    items: list[CartLine]
    total: Money
