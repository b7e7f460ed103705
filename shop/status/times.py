"""RFC 3339 in and out: callers send times with an offset, we store naive UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shop.core import timeutil
from shop.core.errors import InvalidInput


def rfc3339(moment: datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


def parse_rfc3339(value: Any, field: str) -> datetime:
    """A naive UTC datetime from an RFC 3339 string with an offset, or a 422 naming `field`
    (the one reading of RFC 3339 the API has: `shop.core.timeutil.parse_rfc3339`)."""
    try:
        return timeutil.parse_rfc3339(value.strip() if isinstance(value, str) else value)
    except ValueError as problem:
        raise InvalidInput(f"'{field}' {problem}", extra={"field": field}) from None
