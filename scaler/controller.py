"""The control loop: read signals -> decide (pure policy) -> act -> record.

The controller is the only place where decisions meet the world. It gets its signal source,
policy and actuator injected and only acts: what a missing or stale signal means, the bounds
and the clamp are the policy's (one owner, judged in the simulator exactly as it runs here).
The controller records which signals were missing, and in dry-run mode decides and records
without acting.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from scaler.actuators import DEPLOYMENTS, Actuator, ActuatorError
from scaler.metrics import ScalerMetrics
from scaler.model import Decision, Observation, ScalingDecision
from scaler.signals.errors import SignalError

log = logging.getLogger("peakshop.scaler.controller")

_NOT_STARTED = object()  # a policy's state may itself be None


class Policy(Protocol):
    """The simulator's `ClosedLoopPolicy`: pure decisions, the policy's memory passed in and out.

    The controller keeps the state between rounds exactly as the simulator does, so a policy
    runs live precisely as it was judged.
    """

    period_s: int

    def initial_state(self, web_replicas: int, worker_replicas: int) -> Any: ...

    def decide(self, observation: Observation, state: Any) -> tuple[ScalingDecision, Any]: ...


class SignalSource(Protocol):
    def observe(self) -> Observation: ...


class PushSource(Protocol):
    def heard(self, last: Observation) -> Observation | None: ...


@dataclass(frozen=True)
class ControllerSettings:
    """What the loop itself needs; built at the edge from flags."""

    period_s: float = 15.0
    dry_run: bool = False
    recent_limit: int = 240  # observations kept for inspection: an hour at 15 s
    push_poll_s: float = 1.0  # between rounds, how often the push source is asked


@dataclass(frozen=True)
class ReconcileResult:
    """What one round did; `decision` is None when it could not decide."""

    leader: bool
    observation: Observation | None = None
    decision: ScalingDecision | None = None
    acted: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    error: str | None = None


def missing_signals(observation: Observation) -> set[str]:
    """Deployments whose deciding signal is missing: web needs traffic, workers the queue."""
    missing = set()
    if observation.request_rate is None:
        missing.add("web")
    if observation.queue_backlog is None:
        missing.add("workers")
    return missing


def requested_of(observation: Observation, deployment: str) -> int:
    """The requested replicas of `deployment` in `observation`."""
    return observation.web_requested if deployment == "web" else observation.workers_requested


class Controller:
    """One scaler: `reconcile_once()` per period until stopped."""

    def __init__(self, signals: SignalSource, policy: Policy, actuator: Actuator,
                 settings: ControllerSettings, metrics: ScalerMetrics | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 push: PushSource | None = None) -> None:
        self.signals = signals
        # Asked between rounds, for a policy that listens (as the simulator asks it).
        self.push = push if getattr(policy, "listens_for_push", False) else None
        self.policy = policy
        self.actuator = actuator
        self.settings = settings
        self.metrics = metrics or ScalerMetrics()
        self.clock = clock
        # What the loop saw lately, newest last: for logs, tests and debugging sessions.
        self.recent: collections.deque[Observation] = collections.deque(
            maxlen=settings.recent_limit)
        self.last_decision: ScalingDecision | None = None
        self.policy_state: Any = _NOT_STARTED
        self.web_pod_size = 1.0   # the in-pod size last given to the running web pods
        if self.push is not None and hasattr(self.push, "pod_size"):
            self.push.pod_size = lambda: self.web_pod_size   # what the pods' workers carry
        # A rate takes two scrapes a period apart: until the second is due, a signal without
        # a reading is not missing yet (set at the first observation).
        self.first_reading_due: float | None = None

    def reconcile_once(self) -> ReconcileResult:
        """Read, decide, act, record: one round of the loop."""
        with self.metrics.reconcile_seconds.time():
            try:
                leader = self.actuator.is_leader()
            except ActuatorError as error:
                return self._failed("leader", str(error), leader=False)
            self.metrics.leader.set(1 if leader else 0)
            if not leader:
                log.info("another scaler holds the lease; standing by")
                # Another leader decides meanwhile: when the lease comes back, start afresh
                # from the sizes and the history as they will be then.
                self.policy_state = _NOT_STARTED
                return ReconcileResult(leader=False)
            try:
                observation = self.signals.observe()
            except (SignalError, ActuatorError) as error:
                # Without replica counts nothing can be compared or changed: wait a round.
                return self._failed("observe", str(error))
            self.metrics.observed(observation)
            if self.first_reading_due is None:
                self.first_reading_due = self.clock() + self.settings.period_s
            decision, held = self.decide(observation)
            acted = self._act(observation, decision)
            self.recent.append(observation)
            self.last_decision = decision
            return ReconcileResult(leader=True, observation=observation, decision=decision,
                                   acted=acted, held=held)

    def decide(self, observation: Observation) -> tuple[ScalingDecision, tuple[str, ...]]:
        """The policy's decision as it stands, and the Deployments whose signal was missing."""
        if self.policy_state is _NOT_STARTED:
            self.policy_state = self.policy.initial_state(observation.web_requested,
                                                          observation.workers_requested)
        decision, self.policy_state = self.policy.decide(observation, self.policy_state)
        missing = tuple(sorted(missing_signals(observation)))
        warming_up = (self.first_reading_due is not None
                      and self.clock() < self.first_reading_due)
        for deployment in missing:
            self.metrics.held.labels(deployment).inc()
            wanted: Decision = getattr(decision, deployment)
            if warming_up:
                log.info("%s signal not read yet (its first reading is due %.0f s after "
                         "start-up): the policy decided %d replicas (%s)", deployment,
                         self.settings.period_s, wanted.replicas, wanted.reason.value)
                continue
            log.warning("%s signal missing (for %.0f s): the policy decided %d replicas (%s)",
                        deployment, observation.age_s, wanted.replicas, wanted.reason.value)
        return decision, missing

    def push_once(self) -> ReconcileResult | None:
        """Between rounds: when the push source hears arrivals outrun the ready replicas,
        decide and act at once on what it heard; None when nothing was heard (or this scaler
        has not decided yet, or is not the leader)."""
        if self.push is None or self.policy_state is _NOT_STARTED or not self.recent:
            return None
        try:
            pushed = self.push.heard(self.recent[-1])
        except (SignalError, ActuatorError) as error:
            log.warning("push not heard: %s", error)
            return None
        if pushed is None:
            return None
        self.metrics.pushes.inc()
        decision, self.policy_state = self.policy.decide(pushed, self.policy_state)
        log.info("pushed: arrivals at %.0f/s outrun %d ready web replicas", pushed.request_rate,
                 pushed.web_ready)
        acted = self._act(pushed, decision)
        self.recent.append(pushed)
        self.last_decision = decision
        return ReconcileResult(leader=True, observation=pushed, decision=decision, acted=acted)

    def _act(self, observation: Observation, decision: ScalingDecision) -> tuple[str, ...]:
        self._resize_web(decision.web.size)   # first: in place is seconds, new pods a minute
        acted = []
        for deployment in DEPLOYMENTS:
            wanted: Decision = getattr(decision, deployment)
            current = requested_of(observation, deployment)
            self.metrics.decided(deployment, wanted, current, self.settings.dry_run)
            if wanted.replicas == current:
                continue
            if self.settings.dry_run:
                log.info("dry run: would scale %s from %d to %d (%s)", deployment, current,
                         wanted.replicas, wanted.reason.value)
                continue
            try:
                self.actuator.scale(deployment, wanted.replicas, wanted, current)
            except ActuatorError as error:
                self._failed("act", str(error))
                continue
            log.info("scaled %s from %d to %d (%s)", deployment, current, wanted.replicas,
                     wanted.reason.value)
            acted.append(deployment)
        return tuple(acted)

    def _resize_web(self, size: float) -> None:
        """Give the running web pods the in-pod size the policy decided, where the actuator
        can (Kubernetes: in-place resize). While it is above 1 it is asked every round, so
        pods started since get it too (pods already at that size are left alone)."""
        resize = getattr(self.actuator, "resize", None)
        if resize is None or (size == self.web_pod_size and size <= 1.0):
            return
        if self.settings.dry_run:
            if size != self.web_pod_size:
                log.info("dry run: would resize the web pods to %.2fx", size)
                self.web_pod_size = size
            return
        try:
            resized = resize("web", size)
        except ActuatorError as error:
            self._failed("resize", str(error))
            return
        if resized:
            log.info("resized %d web pod(s) in place to %.2fx their template", len(resized),
                     size)
        self.web_pod_size = size

    def _failed(self, stage: str, message: str, leader: bool = True) -> ReconcileResult:
        self.metrics.reconcile_errors.labels(stage).inc()
        log.error("reconcile could not %s: %s", stage, message)
        return ReconcileResult(leader=leader, error=message)

    def run(self, stop: threading.Event) -> None:
        """Reconcile every period until `stop` is set; a round's failure never ends the loop."""
        log.info("scaler running every %.0f s%s", self.settings.period_s,
                 " (dry run: deciding, not acting)" if self.settings.dry_run else "")
        while not stop.is_set():
            started = self.clock()
            try:
                self.reconcile_once()
            except Exception:
                # A bug or an unforeseen reply must not stop scaling for good: count it,
                # log it whole, and try again next period.
                self.metrics.reconcile_errors.labels("unexpected").inc()
                log.exception("reconcile round failed unexpectedly")
            self.metrics.round_finished()
            self._listen_until(started + self.settings.period_s, stop)
        log.info("scaler stopped")

    def _listen_until(self, deadline: float, stop: threading.Event) -> None:
        """Wait for the next round, waking at once when asked to stop; meanwhile ask the
        push source every push_poll_s."""
        while not stop.is_set():
            left = deadline - self.clock()
            if left <= 0:
                return
            if self.push is None:
                stop.wait(left)
                return
            if stop.wait(min(self.settings.push_poll_s, left)):
                return
            try:
                self.push_once()
            except Exception:
                # As a round's: counted and logged whole, never the end of the loop.
                self.metrics.reconcile_errors.labels("push").inc()
                log.exception("push round failed unexpectedly")
