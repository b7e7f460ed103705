"""Live signals: the storefront's /metrics or Prometheus, the Redis order stream, /proc.

Each source reads one thing and raises `SignalError` when it cannot; `LiveSignals` combines
them into the `Observation` that policy and simulator share.
"""

from scaler.signals.errors import SignalError
from scaler.signals.source import LiveSignals

__all__ = ["LiveSignals", "SignalError"]
