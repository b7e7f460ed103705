"""Actuators: the only layer that changes replica counts (Kubernetes or local processes).

Every actuator reads the ready/requested counts of the two Deployments the scaler manages,
`web` (the storefront) and `workers` (order workers), and sets a new requested count.
"""

from __future__ import annotations

from typing import Protocol

from scaler.model import Decision
from scaler.signals.readings import ReplicaCounts

DEPLOYMENTS = ("web", "workers")


class ActuatorError(Exception):
    """Replica counts could not be read or changed; the message says what and where."""


class Actuator(Protocol):
    """What the controller needs from a place where replicas run."""

    def replicas(self) -> ReplicaCounts:
        """Ready and requested replicas of both Deployments; ActuatorError if unreadable."""
        ...

    def scale(self, deployment: str, replicas: int, decision: Decision, current: int) -> None:
        """Request `replicas` for `deployment` ("web" or "workers") and record why."""
        ...

    def is_leader(self) -> bool:
        """True when this scaler may act (it holds the leader Lease, or is alone)."""
        ...

    def close(self) -> None:
        """Give back what the actuator holds (Lease, child processes, connections)."""
        ...


__all__ = ["DEPLOYMENTS", "Actuator", "ActuatorError", "ReplicaCounts"]
