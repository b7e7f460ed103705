"""Request and response models of the orders API (they also write its OpenAPI entry)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from shop.catalog.service import MAX_PAGE
from shop.core.schemas import Money, QueryInt, RequestModel, ResponseModel, optional
from shop.orders.models import ORDER_STATUSES

# The plain strings, not the enum's members: a refusal lists what to send ('paid'), not
# how Python spells the member.
OrderStatus = Literal[tuple(str(status) for status in ORDER_STATUSES)]


class OrderQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")

    status: OrderStatus = optional()
    limit: QueryInt = optional(ge=1, le=MAX_PAGE)
    cursor: str = optional(max_length=200, description="The next_cursor of the previous page.")


class OrderLineOut(ResponseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Money


class OrderOut(ResponseModel):
    order_id: str
    status: str
    email: str
    shipping_address: dict[str, Any]
    items: list[OrderLineOut]
    total: Money
    failure_reason: str | None
    created_at: str | None
    paid_at: str | None
    confirmed_at: str | None
    carrier: str | None
    promised_delivery_date: str | None
    arrives_before_christmas: bool | None
    prices_include_vat: bool = Field(True, description="false: unit prices and shipping are "
                                                       "net and `tax` is added in `total`")


class Orders(ResponseModel):
    items: list[OrderOut]
