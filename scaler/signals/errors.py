"""The one error every signal source raises when a reading cannot be had."""


class SignalError(Exception):
    """A signal could not be read (endpoint down, bad payload, Redis unreachable)."""
