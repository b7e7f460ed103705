"""Time in one place, so that tests and services agree on what "now" is."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no time zones, so every stored time is UTC without one."""
    return datetime.now(UTC).replace(tzinfo=None)
