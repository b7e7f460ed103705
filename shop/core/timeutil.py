"""Time in one place, so that tests and services agree on what "now" is."""

import re
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no time zones, so every stored time is UTC without one."""
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(moment: datetime | None) -> str | None:
    """A stored (naive UTC) time as RFC 3339, e.g. 2026-12-24T18:00:00Z."""
    if moment is None:
        return None
    return moment.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?"
                     r"([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(text: object) -> datetime:
    """An RFC 3339 time with its offset, as naive UTC; ValueError says what is wrong.

    A time without an offset is refused: '18:00' means a different moment in every shop's
    time zone, and guessing wrong would plan capacity for the wrong hour.
    """
    example = "2026-12-24T18:00:00+01:00"
    if not isinstance(text, str):
        raise ValueError(f"must be an RFC 3339 time like {example}: got {text!r}")
    match = _RFC3339.match(text)
    if match is None:
        if _RFC3339.match(text + "Z"):
            raise ValueError(f"has no UTC offset: add one, like {text}+01:00 or {text}Z")
        raise ValueError(f"is not an RFC 3339 time like {example}: got {text!r}")
    day, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    micro = f".{(fraction or '')[:6]:0<6}"
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{micro}{offset}")
        return moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ValueError(f"is not a real date and time: got {text!r}") from None
