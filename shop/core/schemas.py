"""Shapes every domain's API shares: problems, money, pages, and the input types behind them.

Request models are strict (a JSON `"2"` is not a quantity, `true` is not a number) and
forbid unknown fields, so the OpenAPI document says exactly what the validator accepts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from shop.core import validation

INT64_MAX = 2**63 - 1


SKU = r"^[A-Za-z0-9._-]+$"
CURRENCY = r"^[A-Z]{3}$"
COUNTRY = r"^[A-Za-z]{2}$"
EMAIL = validation.EMAIL.pattern

# Each pattern a model uses -> what to send instead, for the 422 detail.
PATTERN_HINTS = {
    SKU: "may hold only letters, digits, '-', '_' and '.'",
    CURRENCY: "must be a three-letter ISO code like EUR",
    COUNTRY: "must be a two-letter ISO code like DE",
    EMAIL: "is not an e-mail address",
}


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def optional(**constraints: Any) -> Any:
    """A field that may be left out but, when sent, may not be null."""
    return Field(None, json_schema_extra=_no_default, **constraints)


class RequestModel(BaseModel):
    """A request body or query: strict types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ResponseModel(BaseModel):
    """A response body; new fields may appear, so clients must ignore unknown ones."""

    model_config = ConfigDict(extra="allow")


class Problem(ResponseModel):
    """RFC 9457 problem details: every 4xx and 5xx answer of the API."""

    type: str = Field(examples=["https://peakshop.dev/problems/invalid_input"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What went wrong and how to fix it.")
    code: str = Field(description="Stable machine-readable name of the problem.")


class Money(ResponseModel):
    amount: int = Field(ge=0, le=INT64_MAX, description="Minor units (cents).")
    currency: str = Field(pattern=CURRENCY, examples=["EUR"])


def _money(value: Any) -> tuple[int, str]:
    # The service's own problem goes out as it is: its wording names the shape to send and
    # its code (unknown_currency, ...) is part of the API.
    return validation.money({"price": value}, "price")


MONEY_INPUT_SCHEMA = {
    "oneOf": [
        {"type": "object", "required": ["amount"], "additionalProperties": False,
         "properties": {"amount": {"type": "integer", "minimum": 0,
                                   "maximum": validation.MAX_AMOUNT},
                        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}},
        {"type": "integer", "minimum": 0, "maximum": validation.MAX_AMOUNT,
         "description": "minor units in the shop's default currency"},
    ],
    "description": "Money: {\"amount\": <minor units>, \"currency\": \"EUR\"}.",
}

# Money as a caller sends it; the service's own check does the work, so they cannot drift.
MoneyInput = Annotated[Any, PlainValidator(_money), WithJsonSchema(MONEY_INPUT_SCHEMA)]


def _ascii_whole_number(value: Any) -> Any:
    # Python's int() reads '١٢' as 12 and str.isdigit() takes '²': accept ASCII digits only.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()
                                       and len(value) <= 19):
        raise PydanticCustomError("int_parsing", "must be a whole number written with the "
                                  "digits 0-9: got {input}", {"input": repr(value)})
    return int(value) if isinstance(value, str) else value


# A whole number in a query string ("?limit=20").
QueryInt = Annotated[int, BeforeValidator(_ascii_whole_number)]


class Items(ResponseModel):
    """A list answer: `{"items": [...]}`."""

    items: list[dict[str, Any]]
