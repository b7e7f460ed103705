"""Checks of caller-supplied values; each failure names the field and the fix."""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Any

from babel.core import get_global
from babel.numbers import get_territory_currencies

from shop.core.errors import InvalidInput

CURRENCY = re.compile(r"^[A-Z]{3}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def text(data: dict[str, Any], field: str, *, max_length: int = 200, required: bool = True,
         default: str | None = None) -> str | None:
    value = data.get(field)
    if value is None:
        if required:
            raise InvalidInput(f"'{field}' is required")
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be a string: got {type(value).__name__}")
    # The length as sent, as the OpenAPI's maxLength promises it; blanks around are dropped.
    if len(value) > max_length:
        raise InvalidInput(f"'{field}' is longer than {max_length} characters")
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"'{field}' must not be empty")
    control = CONTROL_CHARACTER.search(value)
    if control:
        # Invisible in a page, and in a terminal they move the cursor or recolour what
        # follows: nothing a name, address or message needs (tabs and line breaks are kept).
        raise InvalidInput(f"'{field}' holds a control character "
                           f"({control.group().encode('unicode_escape').decode()}): remove it")
    return value


# C0 controls but tab, line feed and carriage return; DEL; C1 controls.
CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def integer(data: dict[str, Any], field: str, *, minimum: int | None = None,
            maximum: int | None = None, required: bool = True,
            label: str | None = None) -> int | None:
    """`data[field]` as a whole number within bounds; `label` is the field's name in the
    caller's body when `data` is nested in it (e.g. "price.amount")."""
    value = data.get(field)
    name = label or field
    if value is None:
        if required:
            raise InvalidInput(f"'{name}' is required")
        return None
    # bool is an int in Python; a JSON true is never a quantity.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"'{name}' must be a whole number: got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidInput(f"'{name}' must be at least {minimum}: got {value}")
    if maximum is not None and value > maximum:
        raise InvalidInput(f"'{name}' must be at most {maximum}: got {value}")
    return value


MAX_AMOUNT = 10**12


def money(data: dict[str, Any], field: str, *, default_currency: str = "EUR",
          required: bool = True) -> tuple[int, str] | None:
    """A `{"amount": minor units, "currency": "EUR"}` value (a bare integer means minor units)."""
    value = data.get(field)
    if value is None:
        if required:
            raise InvalidInput(f"'{field}' is required, as {{\"amount\": 1999, "
                               f"\"currency\": \"{default_currency}\"}}")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"amount": value, "currency": default_currency}
    if not isinstance(value, dict):
        raise InvalidInput(f"'{field}' must be an object like {{\"amount\": 1999, "
                           f"\"currency\": \"{default_currency}\"}} (amount in minor units)")
    unknown = value.keys() - MONEY_FIELDS
    if unknown:
        # As the published schema says (no other properties): a field the API would only
        # drop ("tax", "amount_cents") is refused rather than silently ignored.
        raise InvalidInput(f"'{field}' takes only 'amount' and 'currency': got "
                           f"{', '.join(repr(name)[:40] for name in sorted(unknown)[:3])}")
    amount = integer(value, "amount", minimum=0, maximum=MAX_AMOUNT, label=f"{field}.amount")
    return amount, currency_code(value, "currency", default=default_currency, label=field)


MONEY_FIELDS = frozenset({"amount", "currency"})


@cache
def circulating_currencies() -> frozenset[str]:
    """ISO 4217 codes of the currencies that are legal tender somewhere today (CLDR, via Babel).

    Withdrawn codes (DEM, FRF), funds codes (USN, CLF) and metals (XAU) are ISO codes too,
    but nobody can pay a shop in them.
    """
    today = date.today()
    return frozenset(code for territory in get_global("territory_currencies")
                     for code in get_territory_currencies(territory, today, tender=True))


def currency_code(data: dict[str, Any], field: str = "currency", *, default: str | None = None,
                  label: str | None = None) -> str:
    """An ISO 4217 code of a currency in circulation, like EUR."""
    value = data.get(field)
    if value is None:  # absent or null: not given
        value = default
    name = f"{label}.{field}" if label else field
    if not isinstance(value, str) or not CURRENCY.match(value):
        raise InvalidInput(f"'{name}' must be a three-letter ISO 4217 code like EUR: "
                           f"got {value!r}")
    if value not in circulating_currencies():
        raise InvalidInput(f"'{name}' is not the ISO 4217 code of a currency in circulation: "
                           f"got {value!r}; use a code like EUR, USD or JPY",
                           code="unknown_currency")
    return value


def email(data: dict[str, Any], field: str = "email") -> str:
    value = text(data, field, max_length=254)
    if not EMAIL.match(value):
        raise InvalidInput(f"'{field}' is not an e-mail address: got {value!r}")
    return value.lower()


# Row ids in paths are database integers (32-bit serials): at most ten digits.
MAX_ROW_ID = 2**31 - 1


def row_id(text: str | int) -> int | None:
    """The row id a path names, or None when it names none: ASCII digits only, as the
    `<int:...>` routes take them (Python's int() also reads '١٢', '１２', ' 12', '+12' and
    '1_2' as numbers, which would reach a row the caller never named)."""
    if isinstance(text, int) and not isinstance(text, bool):
        number = text
    elif isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 10:
        number = int(text)
    else:
        return None
    return number if 0 < number <= MAX_ROW_ID else None


def money_json(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}
