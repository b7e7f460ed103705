"""RFC 3339 in and out: callers send times with an offset, we store naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shop.core.errors import InvalidInput


def rfc3339(moment: datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


def parse_rfc3339(value: Any, field: str) -> datetime:
    """A naive UTC datetime from an RFC 3339 string with an offset, or a 422 naming `field`."""
    example = "2026-12-24T18:00:00+01:00"
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput(f"'{field}' must be an RFC 3339 time with an offset, like {example}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"'{field}' is not an RFC 3339 time: got {value!r}; "
                           f"write it like {example}") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"'{field}' has no offset: got {value!r}; add one, like {example}")
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise InvalidInput(f"'{field}' is out of range: got {value!r}") from None
