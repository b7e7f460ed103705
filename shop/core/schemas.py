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
    ValidationInfo,
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


def _money(value: Any, info: ValidationInfo) -> tuple[int, str]:
    # The service's own problem goes out as it is: its wording names the field and the
    # shape to send, and its code (unknown_currency, ...) is part of the API.
    field = info.field_name or "price"
    return validation.money({field: value}, field)


MONEY_INPUT_SCHEMA = {
    "oneOf": [
        {"type": "object", "required": ["amount"], "additionalProperties": False,
         "properties": {"amount": {"type": "integer", "minimum": 0,
                                   "maximum": validation.MAX_AMOUNT},
                        # null, like absent: the shop's (or the cart's) currency.
                        "currency": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$"}}},
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


class ServiceCheckedBody(RequestModel):
    """A body whose service refuses unknown fields itself, in words that list the fields it
    takes: the model lets them through to it, and the document still says none are allowed."""

    model_config = ConfigDict(strict=True, extra="allow",
                              json_schema_extra={"additionalProperties": False})


def checked_by_service(schema: dict[str, Any]) -> Any:
    """A value the service checks itself because its answer is part of the API (a problem
    code, a status other than 422, a message naming the choices): the model lets any value
    through and only writes `schema` into the document."""
    return Annotated[Any, WithJsonSchema(schema)]


RFC3339_SCHEMA = {"type": "string", "format": "date-time",
                  "description": "RFC 3339 with a UTC offset, like 2026-12-24T18:00:00+01:00"}
# A time the service reads itself: it names a missing offset or an impossible date precisely.
Rfc3339Input = checked_by_service(RFC3339_SCHEMA)


class Page(ResponseModel):
    """A page of a list: follow `next_cursor` until it is null."""

    next_cursor: str | None


def service_text(max_length: int = 200, *, required: bool = True, **constraints: Any) -> Any:
    """A text field the service reads with `validation.text`, which checks its length as sent
    and trims it before checking it is not empty: the model checks the type, the document says
    the bounds (null counts as left out when the field is optional)."""

    def bounds(schema: dict[str, Any]) -> None:
        schema.pop("default", None)
        for option in schema.get("anyOf", [schema]):
            if option.get("type") == "string":
                option.update(maxLength=max_length, **({"minLength": 1} if required else {}))

    return Field(... if required else None, json_schema_extra=bounds, **constraints)


RFC3339_OR_NULL_SCHEMA = {"anyOf": [RFC3339_SCHEMA, {"type": "null"}]}


def one_of(values: Any, *, nullable: bool = False, **schema: Any) -> Any:
    """A string the service matches against `values` itself (its refusal names them all):
    the model checks that it is a string, the document lists the values."""
    choice = {"type": "string", "enum": [str(value) for value in values], **schema}
    if nullable:
        return Annotated[str | None, WithJsonSchema({"anyOf": [choice, {"type": "null"}]})]
    return Annotated[str, WithJsonSchema(choice)]
