"""The one error type of the backup commands: its message is the line the operator reads."""

from __future__ import annotations


class BackupError(Exception):
    """A problem the operator can fix; the message names it and says how, on one line."""
