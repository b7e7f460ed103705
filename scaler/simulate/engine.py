"""Closed-loop replay: a policy decides on delayed observations of the cluster it scales.

Time moves in ticks, the largest step that divides the trace step, the scrape delay, the rate
window, the start-up delay and the policy's period (15 s with the defaults). Within a tick
nothing changes: the rate is held, decisions land on tick boundaries and so do pods becoming
ready, and the order backlog moves linearly. Stepping tick by tick is therefore exactly the
1-second model, 15 times faster than walking every second.

Two things land between ticks, and are kept to the second for the figures: a push (the
pods judge each second's arrivals by the live rule, `scaler.signals.push.judge_arrivals`, and
a policy that listens hears a push `push_s` after the second that sent it) and an in-pod
resize (in effect `resize_s` after it was asked for). The engine's own view of them, which
only feeds later observations, rounds both up to the next tick. With per-second arrival noise
(`arrival_noise`, scaler/simulate/noise.py) the scraped rates are the means of the noisy
seconds, and only the ticks whose highest or lowest second could change the push's verdict
are walked second by second.
"""

from __future__ import annotations

import bisect
import gc
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from scaler.model import Observation, ScalingDecision
from scaler.signals.push import RISING, PushRule, judge_against
from scaler.simulate.cluster import ClusterSettings, web_demand, worker_demand
from scaler.simulate.faults import FaultPlan, plan_faults
from scaler.simulate.noise import (
    block_extremes,
    block_means,
    noisy_arrivals,
    trailing_mean,
    trailing_min,
)
from scaler.simulate.room import mean_line, refreshes
from scaler.simulate.trace import Trace


class ClosedLoopPolicy(Protocol):
    """A policy that decides every `period_s` from what it observes.

    A policy with `listens_for_push = True` is also asked when a push arrives (arrivals
    outran its ready pods); the others only ever see the scraped observations.
    """

    period_s: int

    def initial_state(self, web_replicas: int, worker_replicas: int) -> Any: ...

    def decide(self, observation: Observation, state: Any) -> tuple[ScalingDecision, Any]: ...


@dataclass(frozen=True)
class RequestedReplicas:
    """What a policy asked for, one value per second, and what ran before the trace.

    `web_size`/`workers_size` are the in-pod capacity asked for per second (None: 1.0). Each
    series is an array or a `BlockSeries` (read alike, by slices).
    """

    web: np.ndarray | BlockSeries
    workers: np.ndarray | BlockSeries
    initial_web: int
    initial_workers: int
    web_size: np.ndarray | BlockSeries | None = None
    workers_size: np.ndarray | BlockSeries | None = None


def tick_for(trace: Trace, cluster: ClusterSettings, period_s: int) -> int:
    """The largest time step at which the whole model is piecewise constant."""
    tick = trace.step_s
    for step in (cluster.scrape_s, cluster.rate_window_s, cluster.startup_s, period_s):
        tick = math.gcd(tick, int(step))
    return tick


def settled_start(trace: Trace, cluster: ClusterSettings) -> tuple[int, int]:
    """The cluster before the trace: settled on the first second's demand."""
    web = int(web_demand(trace.rps[:1], cluster)[0])
    workers = int(worker_demand(trace.orders_per_s[:1], cluster)[0])
    return cluster.bounds.clamp(web), cluster.bounds.clamp(workers)


class BlockSeries:
    """A per-second series kept as one value per block of `block_s` seconds, plus the few
    changes that land inside a block (each holds from its second to the end of its block).

    It reads like a 1-D array (len, indexing, slices, numpy conversion) but is expanded only
    a part at a time: a season is 8.4 million seconds, and its per-second arrays would be
    the largest and slowest thing a replay makes.
    """

    def __init__(self, blocks, block_s: int, patches: list[tuple[int, Any]], dtype) -> None:
        self.blocks = np.asarray(blocks, dtype=dtype)
        self.block_s = block_s
        self.patches = patches                       # (second, value), in time order
        self._patch_seconds = [second for second, _ in patches]

    def __len__(self) -> int:
        return len(self.blocks) * self.block_s

    @property
    def dtype(self) -> np.dtype:
        return self.blocks.dtype

    def __getitem__(self, index):
        if not isinstance(index, slice):
            second = operator.index(index)
            if not -len(self) <= second < len(self):
                raise IndexError(f"second {second} is outside the series ({len(self)} s)")
            second %= len(self)
            return self[second : second + 1][0]
        start, stop, stride = index.indices(len(self))
        if stride != 1:
            return self[start:stop][::stride] if stride > 0 else np.asarray(self)[index]
        stop = max(start, stop)
        block_s = self.block_s
        first = start // block_s
        values = np.repeat(self.blocks[first : -(-stop // block_s)], block_s)
        values = values[start - first * block_s : stop - first * block_s]
        lo = bisect.bisect_left(self._patch_seconds, start - block_s)
        hi = bisect.bisect_left(self._patch_seconds, stop)
        for second, value in self.patches[lo:hi]:
            end = (second // block_s + 1) * block_s
            values[max(second, start) - start : max(min(end, stop) - start, 0)] = value
        return values

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self[:]
        return values if dtype is None else values.astype(dtype)


def run_closed_loop(trace: Trace, cluster: ClusterSettings, policy: ClosedLoopPolicy,
                    on_observation: Callable[[Observation], None] | None = None,
                    faults: FaultPlan | None = None) -> RequestedReplicas:
    """Replay `trace`, letting `policy` decide every period on delayed observations."""
    # A replay makes millions of short-lived values and no reference cycles, and keeps a
    # dozen season-long lists: each pass of the cyclic collector would walk their millions of
    # items for nothing (~0.1-0.2 s a season). It is off for the replay, and on again after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _replay(trace, cluster, policy, on_observation, faults)
    finally:
        if collecting:
            gc.enable()


def _replay(trace: Trace, cluster: ClusterSettings, policy: ClosedLoopPolicy,
            on_observation: Callable[[Observation], None] | None,
            faults: FaultPlan | None) -> RequestedReplicas:
    period_s = int(policy.period_s)
    if period_s < 1:
        raise ValueError(f"a policy period must be at least 1 s: got {period_s}")
    tick = tick_for(trace, cluster, period_s)
    scrape, window, startup = (cluster.scrape_s // tick, cluster.rate_window_s // tick,
                               cluster.startup_s // tick)
    resize = -(-cluster.resize_s // tick)     # the engine's view: whole ticks, rounded up
    decide_every = period_s // tick
    blocks = trace.duration_s // tick
    repeat = trace.step_s // tick
    # Blocks before the trace hold the first values: the cluster was settled on them.
    pre = startup + scrape + window + resize + 2
    rps = np.repeat(trace.rps, repeat)
    orders = np.repeat(trace.orders_per_s, repeat)
    rps_padded = np.concatenate([np.full(pre, rps[0]), rps])
    orders_padded = np.concatenate([np.full(pre, orders[0]), orders])
    demand = web_demand(rps_padded, cluster).tolist()
    if faults is None:
        faults = plan_faults(trace.duration_s, cluster)

    # Observed rates for a decision at block k: the window of blocks [k-scrape-window, k-scrape).
    def observed_mean(values: np.ndarray) -> list[float]:
        summed = np.concatenate([[0.0], np.cumsum(values)])
        ends = np.arange(blocks) + pre - scrape
        return ((summed[ends] - summed[ends - window]) / window).tolist()

    listens = cluster.push and bool(getattr(policy, "listens_for_push", False))
    push_s = cluster.push_s
    # The pods' push, by the live rule (scaler/signals/push.py): the mean of the last
    # push_mean_s seconds' arrivals against the ready capacity, second by second.
    rule = PushRule(cluster.pod_max_rps, cluster.slo_utilization, cluster.push_at,
                    noise_sd=cluster.push_noise_sd, mean_of=cluster.push_mean_s,
                    confirm_s=cluster.push_confirm_s, long_mean_of=cluster.push_long_mean_s,
                    long_noise_sd=cluster.push_long_noise_sd)
    per_second = (bool(cluster.arrival_noise) or cluster.push_mean_s > 1
                  or cluster.push_confirm_s > 1 or cluster.push_long_mean_s > 0)
    long_look = cluster.push_long_mean_s > 0
    seen_rps = rps_padded
    if per_second:
        # Each second's arrivals, seeded; the scraped rate and the push see them, demand
        # stays on the rate (scaler/simulate/noise.py).
        arrivals = noisy_arrivals(trace, cluster.arrival_noise, cluster.noise_seed)
        block_mean = block_means(arrivals, tick)
        seen_rps = np.concatenate([np.full(pre, rps[0]), block_mean])
    if per_second and listens:
        pushed_mean = trailing_min(
            trailing_mean(arrivals, cluster.push_mean_s, float(trace.rps[0])),
            cluster.push_confirm_s, float(trace.rps[0]))
        push_high, push_low = block_extremes(pushed_mean, tick)
        push_high, push_low = push_high.tolist(), push_low.tolist()
        if long_look:
            long_mean = trailing_mean(arrivals, cluster.push_long_mean_s, float(trace.rps[0]))
            long_high = block_extremes(long_mean, tick)[0].tolist()
    else:
        push_high = push_low = rps.tolist()
    if not long_look:
        long_high = push_high
    rate_seen, orders_seen = observed_mean(seen_rps), observed_mean(orders_padded)
    # The waiting room (scaler/simulate/room.py): per block, what the room let in (what CPU
    # and the pods' push see) and what a scrape counts (the room's own answers too, live).
    room, react_s = cluster.waiting_room, cluster.room_react_s
    counted_answers = cluster.room_answers_counted
    admitted_seen = counted_seen = seen_rps.tolist() if room else None
    if room:
        counted_seen = list(admitted_seen)
    line_now, react_left, pod_slo = 0.0, 0, cluster.pod_slo_rps
    room_for, let_in = None, 0.0            # the room's SLO capacity, at a ready capacity
    last_lined = -(10**9)                   # the last block with a line
    rps_list, orders_list = rps_padded.tolist(), orders_padded.tolist()
    # capacity -> (mark, threshold, threshold of the longer look)
    marks: dict[float, tuple[float, float, float]] = {}
    pushed_arrivals: float | None = None    # what was pushed since arrivals passed the mark
    pending: tuple[int, float] | None = None   # a push on its way: (second it lands, rate)
    max_size = cluster.max_pod_size

    web0, workers0 = settled_start(trace, cluster)
    state = policy.initial_state(web0, workers0)
    # Per block, the blocks before the trace first; each later block is set as the loop
    # reaches it (set, not appended: a season has half a million blocks).
    length = pre + blocks
    web_requested, web_ready = [web0] * length, [web0] * length
    workers_requested, workers_ready = [workers0] * length, [workers0] * length
    web_size, workers_size = [1.0] * length, [1.0] * length
    web_capacity, workers_capacity = [float(web0)] * length, [float(workers0)] * length
    backlog = [0.0] * length
    # Requests arriving while too few pods are ready, per block: what pushes p95 over the SLO.
    web_short = [rps_list[i] if web0 < demand[i] else 0.0 for i in range(pre)] + [0.0] * blocks
    bound = cluster.bounds.clamp
    per_worker, pod_max = cluster.worker_orders_per_s, cluster.pod_max_rps
    slo_share = cluster.p95_share * window
    web_now, workers_now = web0, workers0
    web_size_now = workers_size_now = 1.0
    web_changed = workers_changed = 0       # the last block whose requested count changed
    web_resized = workers_resized = 0       # ... and whose in-pod size changed
    decide, make_observation = policy.decide, tuple.__new__
    scrape_age_s = float(cluster.scrape_s)
    age_of = faults.traffic_age_at
    # The fault of each block's reading, and of a push sent in it, looked up once.
    starts = np.arange(blocks + 1) * tick
    block_codes = faults.codes_at(starts).tolist()
    patches_web: list[tuple[int, int]] = []
    patches_workers: list[tuple[int, int]] = []
    patches_web_size: list[tuple[int, float]] = []
    patches_workers_size: list[tuple[int, float]] = []
    last_observation = None
    resized = False
    # Each decision's reading, faults applied, worked out once before the loop: how many
    # blocks back the scrape's last block is, the rates it holds (None: missing) and its age.
    # Most readings are whole and a scrape old; only the faulted ones differ.
    lag = scrape + 1
    reading_lag = [lag] * blocks
    reading_rate, reading_orders = list(rate_seen), list(orders_seen)
    reading_age = [scrape_age_s] * blocks
    for block in np.flatnonzero(np.asarray(block_codes[:blocks]) != 0).tolist():
        if block % decide_every:
            continue
        code = block_codes[block]
        if code == 3:                        # late: the scrape before this one
            reading_lag[block] = lag + scrape
            if block >= scrape:
                reading_rate[block] = rate_seen[block - scrape]
                reading_orders[block] = orders_seen[block - scrape]
            reading_age[block] = scrape_age_s * 2
        elif code in (1, 4):                 # traffic missing, or an outage: stale
            reading_rate[block] = None
            reading_age[block] = max(scrape_age_s, age_of(block * tick))
        elif code == 2:                      # queue missing
            reading_orders[block] = None
    # The last block whose ready pods were short of demand: a rate window after it holds no
    # request that waited, so its p95 is within the SLO without adding the window up.
    last_short = max((i for i in range(pre) if web_short[i]), default=-window - 1)
    tick_s = float(tick)
    limits_for, limits = None, (math.inf, math.inf, math.inf)   # the push's, at a capacity
    applied = None                          # the scraped decision applied last

    # From a change on, the lines that work out ready pods and sizes run until it is in effect.
    settle_after = max(startup, resize) + 1
    settled_from, settled_capacity = settle_after, None

    def sized(value: float) -> float:
        return 1.0 if value < 1.0 else max_size if value > max_size else value

    for block in range(blocks):
        i = block + pre
        if block % decide_every == 0:
            seen = i - reading_lag[block]    # the last block the scrape covers
            rate, orders_rate = reading_rate[block], reading_orders[block]
            if rate is not None and seen - window < last_lined:
                # A line in the scrape's window (only ever with the room): what it counted
                # and what the room let in part ways.
                rate = sum(counted_seen[seen - window + 1 : seen + 1]) / window
                # CPU works on what the room let in; the scrape counts every answer.
                busy = (sum(admitted_seen[seen - window + 1 : seen + 1]) / window
                        / (web_capacity[seen] * pod_max))
                within_slo = ((sum(web_short[seen - window + 1 : seen + 1]) if
                               seen - window < last_short else 0.0) <= slo_share * rate)
                if not busy < 1.0:
                    busy = 1.0
            elif rate is None:
                within_slo = busy = None
            else:
                within_slo = ((sum(web_short[seen - window + 1 : seen + 1]) if
                               seen - window < last_short else 0.0) <= slo_share * rate)
                busy = rate / (web_capacity[seen] * pod_max)
                if not busy < 1.0:           # min(1.0, busy), without the call
                    busy = 1.0
            if orders_rate is None:
                waiting = oldest_age = None
            elif waiting := backlog[seen]:
                oldest_age = waiting / (workers_capacity[seen] * per_worker)
                waiting = round(waiting)
            else:                            # nothing waiting (nearly always)
                waiting, oldest_age = 0, 0.0
            # Every field in order, built as the tuple it is (its generated __new__ is slower).
            observation = make_observation(Observation, (
                block * tick_s, rate, None, within_slo, busy, waiting, oldest_age,
                orders_rate, web_ready[seen], web_requested[seen], workers_ready[seen],
                workers_requested[seen], reading_age[block], False))
            if on_observation is not None:
                on_observation(observation)
            last_observation = observation
            decision, state = decide(observation, state)
            # Only a decision other than the one applied last can change anything (equal
            # decisions are one shared value, and a push's decision resets `applied`).
            if decision is not applied:
                applied = decision
                web_decision, workers_decision = decision.web, decision.workers
                # What runs is within the bounds and sizes already: only a change is checked.
                if web_decision.replicas != web_now:
                    asked = bound(web_decision.replicas)
                    if asked != web_now:
                        web_now, web_changed = asked, i
                        settled_from, settled_capacity = i + settle_after, None
                if web_decision.size != web_size_now:
                    asked = sized(web_decision.size)
                    if asked != web_size_now:
                        web_size_now, web_resized, resized = asked, i, True
                        settled_from, settled_capacity = i + settle_after, None
                if workers_decision.replicas != workers_now:
                    asked = bound(workers_decision.replicas)
                    if asked != workers_now:
                        workers_now, workers_changed = asked, i
                        settled_from, settled_capacity = i + settle_after, None
                if workers_decision.size != workers_size_now:
                    asked = sized(workers_decision.size)
                    if asked != workers_size_now:
                        workers_size_now, workers_resized, resized = asked, i, True
                        settled_from, settled_capacity = i + settle_after, None
        web_requested[i] = web_now
        workers_requested[i] = workers_now
        web_size[i] = web_size_now
        workers_size[i] = workers_size_now
        if i < settled_from:
            # Ready = the lowest count asked for over the start-up delay (unready pods go
            # first); a count unchanged for that long is simply ready. In-pod size likewise
            # over resize.
            ready = (web_now if i - web_changed >= startup
                     else min(web_requested[i - startup : i + 1]))
            size = (web_size_now if i - web_resized >= resize
                    else min(web_size[i - resize : i + 1]))
            web_ready[i], capacity = ready, ready * size
            ready = (workers_now if i - workers_changed >= startup
                     else min(workers_requested[i - startup : i + 1]))
            size = (workers_size_now if i - workers_resized >= resize
                    else min(workers_size[i - resize : i + 1]))
            workers_ready[i], workers_capacity_now = ready, ready * size
        else:
            # Nothing asked for within the start-up and resize delays (nearly always): what
            # runs is what was asked for, as the lines above would find.
            web_ready[i], workers_ready[i] = web_now, workers_now
            if settled_capacity is None:
                settled_capacity = (web_now * web_size_now, workers_now * workers_size_now)
            capacity, workers_capacity_now = settled_capacity
        web_capacity[i] = capacity
        if room:
            # The engine's view of the line, a block at a time (the figures keep it to the
            # second): the room lets in what the ready pods serve within the SLO.
            if capacity != room_for:
                room_for, let_in = capacity, (math.floor(capacity + 1e-9) + 1e-9) * pod_slo
            arriving = rps_list[i]
            lined = line_now > 0.0 or arriving > let_in
            if lined:
                last_lined = i
                before, slope = line_now, arriving - let_in
                line_now = before + tick * slope
                if line_now < 0.0:
                    line_now = 0.0
                admitted_now = (arriving * tick + before - line_now) / tick
                admitted_seen[i] = admitted_now
                counted_seen[i] = (counted_seen[i] + refreshes(mean_line(before, slope, tick),
                                                               let_in)
                                   if counted_answers else admitted_now)
                if before <= 0.0:            # an overload that starts with no line
                    react_left = react_s
                if react_left:
                    missed = min(react_left, tick)
                    react_left -= missed
                    web_short[i] = admitted_now * missed / tick
                    last_short = i
            else:
                react_left = 0
        elif capacity < demand[i]:
            web_short[i] = rps_list[i]
            last_short = i
        workers_capacity[i] = workers_capacity_now
        waiting = backlog[i - 1] + tick * (orders_list[i] - workers_capacity_now * per_worker)
        if waiting > 0.0:
            backlog[i] = waiting
        if not listens or last_observation is None:
            continue
        # A push is sent when pressure starts or keeps rising (judge_arrivals), not while
        # it merely stays: only a tick whose highest or lowest mean could change that is
        # walked second by second.
        if capacity != limits_for:
            limits = marks.get(capacity)
            if limits is None:
                limits = marks[capacity] = (rule.mark(capacity), rule.threshold(capacity),
                                            rule.long_threshold(capacity))
            limits_for = capacity
        at_s = block * tick
        if room and lined:
            # The pods' busy workers see what the room lets in, steady while it holds back.
            high = low = long = admitted_now
        else:
            high, long, low = push_high[block], long_high[block], push_low[block]
        if (high >= limits[1] or long >= limits[2] if pushed_arrivals is None
                else high > RISING * pushed_arrivals or long > RISING * pushed_arrivals
                or low < limits[0]):
            if room and lined:
                means, longs = [high], [high if long_look else None]
            else:
                means = (pushed_mean[at_s : at_s + tick].tolist() if per_second else [high])
                longs = (long_mean[at_s : at_s + tick].tolist() if long_look
                         else [None] * len(means))
            for offset, mean in enumerate(means):
                if capacity < 1:    # judge_arrivals' own case: no verdict, nothing changes
                    continue
                # judge_arrivals, with the limits at this capacity worked out once
                pushed_rate, pushed_arrivals = judge_against(
                    mean, limits[0], limits[1], limits[2], pushed_arrivals, longs[offset])
                if pushed_rate is None or pending is not None:
                    continue      # one push on its way at a time
                lands = at_s + offset + push_s
                if faults.code_at(lands) in (1, 4):
                    continue      # the push is lost with the traffic signal
                pending = (lands, pushed_rate)
        if pending is None or pending[0] >= at_s + tick:
            continue
        # The push reaches the policy push_s after it was sent, with the arrival rate it
        # implies; what it asks for is kept to the second (the engine's own view: next tick).
        second, arriving = pending
        pending = None
        # The last observation with what the push says, every field in order (as the tuple
        # it is: `_replace` is several times slower).
        last = last_observation
        pushed = make_observation(Observation, (
            float(second), arriving, last[2], False, 1.0, last[5], last[6], last[7],
            web_ready[i], web_now, last[10], last[11], 0.0, True))
        decision, state = decide(pushed, state)
        applied = None
        asked = bound(decision.web.replicas)
        if asked != web_now:
            web_now, web_changed = asked, i + 1
            settled_from, settled_capacity = i + 1 + settle_after, None
            patches_web.append((second, asked))
        asked = sized(decision.web.size)
        if asked != web_size_now:
            web_size_now, web_resized, resized = asked, i + 1, True
            settled_from, settled_capacity = i + 1 + settle_after, None
            patches_web_size.append((second, asked))
        asked = bound(decision.workers.replicas)
        if asked != workers_now:
            workers_now, workers_changed = asked, i + 1
            settled_from, settled_capacity = i + 1 + settle_after, None
            patches_workers.append((second, asked))
        asked = sized(decision.workers.size)
        if asked != workers_size_now:
            workers_size_now, workers_resized, resized = asked, i + 1, True
            settled_from, settled_capacity = i + 1 + settle_after, None
            patches_workers_size.append((second, asked))

    return RequestedReplicas(
        web=BlockSeries(web_requested[pre:], tick, patches_web, np.int64),
        workers=BlockSeries(workers_requested[pre:], tick, patches_workers, np.int64),
        initial_web=web0,
        initial_workers=workers0,
        web_size=(BlockSeries(web_size[pre:], tick, patches_web_size, float)
                  if resized else None),
        workers_size=(BlockSeries(workers_size[pre:], tick, patches_workers_size, float)
                      if resized else None),
    )
