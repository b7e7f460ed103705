"""Request and response models of the cart API (they also write its OpenAPI entry)."""

from __future__ import annotations

from pydantic import Field

from shop.cart.service import MAX_QUANTITY
from shop.core.schemas import Money, RequestModel, ResponseModel


class SetQuantity(RequestModel):
    quantity: int = Field(ge=0, le=MAX_QUANTITY, description="0 removes the line.")


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
