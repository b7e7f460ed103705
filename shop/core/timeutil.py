"""Time in one place, so that tests and services agree on what "now" is."""

import re
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no time zones, so every stored time is UTC without one."""
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(moment: datetime | None) -> str | None:
    """A stored (naive UTC) time as RFC 3339, e.g. 2026-12-24T18:00:00Z."""
    if moment is None:
        return None
    return moment.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


# RFC 3339's grammar: any number of fractional digits (beyond microseconds they are dropped),
# and a second of 60 for a leap second.
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}):(\d{2})(?:\.(\d+))?"
                     r"([Zz]|[+-]\d{2}:\d{2})$")
MAX_RFC3339_LENGTH = 64


def parse_rfc3339(text: object) -> datetime:
    """An RFC 3339 time with its offset, as naive UTC; ValueError says what is wrong.

    A time without an offset is refused: '18:00' means a different moment in every shop's
    time zone, and guessing wrong would plan capacity for the wrong hour. A leap second
    (23:59:60Z) is read as the moment after 23:59:59, as POSIX clocks count it.
    """
    example = "2026-12-24T18:00:00+01:00"
    if not isinstance(text, str):
        raise ValueError(f"must be an RFC 3339 time like {example}: got {text!r}")
    match = _RFC3339.match(text) if len(text) <= MAX_RFC3339_LENGTH else None
    if match is None:
        if len(text) <= MAX_RFC3339_LENGTH and _RFC3339.match(text + "Z"):
            raise ValueError(f"has no UTC offset: add one, like {text}+01:00 or {text}Z")
        raise ValueError(f"is not an RFC 3339 time like {example}: got {text[:80]!r}")
    day, hour_minute, second, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    leap = second == "60" and hour_minute.endswith(":59")
    micro = f".{(fraction or '')[:6]:0<6}"
    try:
        moment = datetime.fromisoformat(
            f"{day}T{hour_minute}:{'59' if leap else second}{micro}{offset}")
        moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.replace(microsecond=0) + timedelta(seconds=1) if leap else moment
    except (ValueError, OverflowError):
        raise ValueError(f"is not a real date and time: got {text!r}") from None
