"""Decisions are small immutable values: build each distinct one once and share it."""

from __future__ import annotations

from functools import lru_cache

from scaler.model import Decision, Reason, ScalingDecision


@lru_cache(maxsize=4096)
def decision(replicas: int, reason: Reason, size: float = 1.0) -> Decision:
    """The Decision(replicas, reason, size) value, shared between equal decisions."""
    return Decision(replicas, reason, size)


@lru_cache(maxsize=16384)
def scaling_decision(web_replicas: int, web_reason: Reason, worker_replicas: int,
                     worker_reason: Reason) -> ScalingDecision:
    """The ScalingDecision for both Deployments, shared between equal decisions."""
    return ScalingDecision(decision(web_replicas, web_reason),
                           decision(worker_replicas, worker_reason))


@lru_cache(maxsize=16384)
def both(web: Decision, workers: Decision) -> ScalingDecision:
    """The ScalingDecision of two shared Decisions (from `decision`), itself shared."""
    return ScalingDecision(web, workers)
