"""Request and response models of the carriers API (they also write its OpenAPI entry)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shop.core.schemas import (
    Money,
    MoneyInput,
    RequestModel,
    ResponseModel,
    checked_by_service,
    optional,
)
from shop.fulfilment.service import MAX_DAILY_CAPACITY, MAX_PRIORITY, MAX_TRANSIT_DAYS


class CarrierRates(RequestModel):
    """What a carrier charges and when it leaves: the same fields when created or changed."""

    origin_country: str | None = Field(None, min_length=2, max_length=2,
                                       description="ISO 3166-1 alpha-2 the parcels leave from")
    domestic_rate: MoneyInput = optional()
    eu_rate: MoneyInput = optional()
    world_rate: MoneyInput = optional()
    free_shipping_over: MoneyInput | None = optional()
    cutoff_hour: int | None = Field(None, ge=0, le=24,
                                    description="Orders after this hour leave the next day")
    holidays: list[str] | None = Field(
        None, max_length=100, examples=[["12-24", "12-25", "12-26", "12-31", "2026-04-06"]],
        description=("The carrier's own days without dispatch or delivery, besides weekends "
                     "and public holidays: \"MM-DD\" every year, \"YYYY-MM-DD\" once; null "
                     "for none."))
    origin_subdivision: str | None = Field(
        None, max_length=64, examples=["DE-BY"],
        description=("The region the parcels leave from (ISO 3166-2), for its regional public "
                     "holidays; null: the country's national ones only."))
    public_holidays: bool = optional(
        description=("false: the carrier works on public holidays and over Christmas; only "
                     "its own `holidays` close it. Default true."))


class NewCarrier(CarrierRates):
    name: str = Field(min_length=1, max_length=100)
    daily_capacity: int = Field(ge=1, le=MAX_DAILY_CAPACITY)
    transit_days: int | None = Field(None, ge=0, le=MAX_TRANSIT_DAYS)
    priority: int | None = Field(None, ge=0, le=MAX_PRIORITY, description="0 is preferred.")
    is_down: bool | None = None


class CarrierChanges(CarrierRates):
    name: str | None = Field(None, min_length=1, max_length=100)
    daily_capacity: int | None = Field(None, ge=1, le=MAX_DAILY_CAPACITY)
    transit_days: int | None = Field(None, ge=0, le=MAX_TRANSIT_DAYS)
    priority: int | None = Field(None, ge=0, le=MAX_PRIORITY)
    is_down: bool | None = None


class HolidayOut(ResponseModel):
    date: str = Field(examples=["2027-03-26"])
    name: str = Field(examples=["Good Friday"])


class CarrierOut(ResponseModel):
    id: int
    name: str
    daily_capacity: int
    transit_days: int
    priority: int
    is_down: bool
    booked_today: int
    holidays: list[str] = Field(description="Its own days off, added to the public holidays.")
    own_holidays: bool = Field(description="Whether it has days off of its own.")
    origin_subdivision: str | None = Field(description="ISO 3166-2 region, like DE-BY.")
    public_holidays: bool = Field(description="Whether the public holidays of its origin "
                                              "(country and region) and Christmas close it.")
    upcoming_holidays: list[HolidayOut] = Field(
        description="Every day it is closed besides weekends, for the coming year.")


class Carriers(ResponseModel):
    items: list[CarrierOut]


def _country_required(schema: dict) -> None:
    # Required in the document; the model lets a missing one through so that the country
    # check answers it with its own code (invalid_country), as it does every other country.
    schema["required"] = ["country"]


class ShippingQuery(RequestModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_country_required)

    country: checked_by_service({"type": "string", "pattern": r"^\s*[A-Za-z]{2}\s*$",
                                 "description": "ISO 3166-1 alpha-2, like FR"}) = optional()


class ShippingOptionOut(ResponseModel):
    id: str = Field(description="Send it as checkout's `shipping_option`")
    carrier: str
    price: Money = Field(description="Gross or net, as the shop's prices "
                                     "(`price_includes_vat`)")
    price_includes_vat: bool
    tax: Money = Field(description="The VAT of this shipping for the country: inside "
                                   "`price`, or added to it at checkout when prices are net")
    tax_included: Money = Field(description="The VAT inside `price` (0 when prices are net)")
    promised_date: str
    arrives_before_christmas: bool
    last_order_date_for_christmas: str | None


class ShippingOptions(ResponseModel):
    country: str
    vat_rate_percent: str
    prices_include_vat: bool
    items: list[ShippingOptionOut]
