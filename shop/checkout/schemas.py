"""Request and response models of checkout (they also write its OpenAPI entry)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from shop.checkout.request import MAX_IDEMPOTENCY_KEY
from shop.core.schemas import (
    COUNTRY,
    EMAIL,
    Money,
    MoneyInput,
    RequestModel,
    ResponseModel,
    optional,
)

Line = Field(min_length=1, max_length=200)


class Address(RequestModel):
    name: str = Line
    line1: str = Line
    line2: str | None = Field(None, max_length=200)
    city: str = Line
    postal_code: str = Line
    country: str = Field(pattern=COUNTRY, description="ISO 3166-1 alpha-2", examples=["FI"])


class Payment(RequestModel):
    gateway: str = Field(max_length=32, examples=["dummy"])
    token: str = Field(max_length=255, examples=["tok_ok"])


class CheckoutBody(RequestModel):
    email: str = Field(pattern=EMAIL, max_length=254)
    shipping_address: Address
    payment: Payment
    expected_total: MoneyInput = optional()
    # Any value: an option the cart is not offered is the service's 422 unknown_shipping_option.
    shipping_option: Any = optional(description="An `id` from GET .../shipping-options")


class CheckoutHeaders(RequestModel):
    model_config = ConfigDict(extra="allow", strict=True)

    idempotency_key: str = optional(
        alias="Idempotency-Key", min_length=1, max_length=MAX_IDEMPOTENCY_KEY,
        description="Send the same key again to get the same order back.")


class PaymentAction(ResponseModel):
    client_secret: str


class Placed(ResponseModel):
    order_id: str
    access_token: str = Field(description="Bearer token of GET /api/v1/orders/{order_id}.")
    status: str
    total: Money
    failure_reason: str | None = None
    payment: PaymentAction | None = None
