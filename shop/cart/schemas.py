"""Request and response models of the cart API (they also write its OpenAPI entry)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shop.core.schemas import (
    INT64_MAX,
    Money,
    RequestModel,
    ResponseModel,
    checked_by_service,
    optional,
)


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


class CartQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")

    country: checked_by_service({"type": "string", "pattern": r"^\s*[A-Za-z]{2}\s*$",
                                 "description": "ISO 3166-1 alpha-2 destination, like FR: "
                                                "the cart then shows its VAT"}) = optional()


class CartOut(ResponseModel):
    cart_id: str
    items: list[CartLine]
    total: Money = Field(description="The lines at the prices shown (net when "
                                     "`prices_include_vat` is false); checkout's "
                                     "`expected_total` is compared with it")
    prices_include_vat: bool = Field(description="false: prices are net and VAT by "
                                                 "destination is added at checkout")
    country: str | None = optional(description="Given as ?country=")
    vat_rate_percent: str | None = optional()
    tax: Money | None = optional(description="VAT of the lines for `country`: included in "
                                             "`total`, or added to it when prices are net")
    total_with_tax: Money | None = optional(description="The lines with their VAT, before "
                                                        "shipping")
