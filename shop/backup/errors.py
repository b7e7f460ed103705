"""The error types of the backup commands: the message is the line the operator reads."""

from __future__ import annotations


class BackupError(Exception):
    """A problem the operator can fix; the message names it and says how, on one line."""


class DamagedObject(BackupError):
    """An object of the store that is not a whole peakshop backup object: damaged, cut short
    or written by something else (never a key that does not open it)."""
