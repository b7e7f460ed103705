"""The waiting room in the simulated cluster (`--waiting-room`; docs/simulation.md, "With the
waiting room").

The model, per second t (the live room in `auto` behind the edge gate, docs/waiting-room.md):

- The room lets in what the ready web capacity serves within the SLO, `room_capacity`: the
  same rule that judges a second without a room (`ceil(rps / pod_slo_rps)` pods against the
  ready capacity), so without a crowd the room changes nothing.
- Demand beyond it waits in a FIFO line, served first when capacity frees, ahead of new
  arrivals: line_t = max(0, line_{t-1} + arrivals_t - capacity_t), admitted_t =
  min(arrivals_t + line_{t-1}, capacity_t).
- An overload episode (seconds with a line) costs its first `room_react_s` seconds as SLO
  violations: the room opens on an overload that lasted a second and the visits let in
  meanwhile queue at the gate (~2 s in the rehearsals). After that a second is within the SLO.
- Nobody gives up: every visitor in line waits for their turn (the figures are an upper
  bound on the waits of a real crowd, some of whom leave).

Pure functions on whole arrays (the figures) and on one block (the engine's own view).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

# A float capacity that is an exact number of pods must not lose one to rounding.
_FLOOR_SLACK = 1e-9

# The live line's Retry-After: half the remaining wait, at least 2 s and at most 60 s.
RETRY_MIN_S, RETRY_MAX_S = 2.0, 60.0


def room_capacity(ready_capacity, pod_slo_rps: float):
    """Requests/s the ready capacity (pods x in-pod size) serves within the SLO, by the rule
    that judges a second: whole pods' worth (a second needing more pods than are ready, in
    whole pods, misses)."""
    # (the slack: a rate a hair over whole pods' worth is not a pod more, as in web_demand)
    return (np.floor(np.asarray(ready_capacity, float) + _FLOOR_SLACK) + _FLOOR_SLACK
            ) * pod_slo_rps


def line_after(arrivals: np.ndarray, capacity: np.ndarray, carried: float = 0.0) -> np.ndarray:
    """The line after each second, FIFO: line_t = max(0, line_{t-1} + arrivals_t -
    capacity_t), starting from `carried` (Lindley, in closed form as the order backlog)."""
    running = np.cumsum(np.asarray(arrivals, float) - capacity)
    return np.maximum(running - np.minimum(np.minimum.accumulate(running), -carried), 0.0)


def admitted(arrivals: np.ndarray, line: np.ndarray, carried: float = 0.0) -> np.ndarray:
    """Requests let in each second: arrivals plus the line before, less the line after."""
    before = np.concatenate([[carried], line[:-1]])
    return np.asarray(arrivals, float) + before - line


def react_violations(line: np.ndarray, react_s: int, into_episode: int = 0
                     ) -> tuple[np.ndarray, int]:
    """Seconds that miss the SLO with the room: the first `react_s` seconds of each run of
    seconds with a line (an overload that starts with no line). `into_episode` is how many
    seconds of a run were already under way before these; returns the misses and that count
    after the last second."""
    waiting = line > 0.0
    seconds = len(line)
    # The second each run started (-1: none yet), carried forward over the run.
    starts = np.where(waiting & ~np.concatenate([[into_episode > 0], waiting[:-1]]),
                      np.arange(seconds), -1)
    started_at = np.maximum.accumulate(starts) if seconds else starts
    position = np.arange(seconds) - started_at            # seconds into a run that began here
    carried_run = started_at < 0                          # still the run from before
    position = np.where(carried_run, np.arange(seconds) + into_episode, position)
    missed = waiting & (position < react_s)
    if not seconds:
        return missed, into_episode
    if not waiting[-1]:
        return missed, 0
    return missed, int(position[-1]) + 1


def refreshes(line: float, admit_per_s: float) -> float:
    """Requests/s a line of `line` visitors makes while it waits: each asks again after half
    its remaining wait (position / admission rate), at least 2 s and at most 60 s apart.
    Summed over the positions as an integral: min(L, 4c)/2 + 2c ln(L/4c) over [4c, 120c],
    plus (L - 120c)/60."""
    if line <= 0.0:
        return 0.0
    if admit_per_s <= 0.0:
        return line / RETRY_MAX_S
    short = 2 * RETRY_MIN_S * admit_per_s              # position at which the wait is 4 s
    long = 2 * RETRY_MAX_S * admit_per_s               # ... and 120 s
    total = min(line, short) / RETRY_MIN_S
    if line > short:
        total += 2 * admit_per_s * math.log(min(line, long) / short)
    if line > long:
        total += (line - long) / RETRY_MAX_S
    return total


def mean_line(start: float, slope: float, seconds: float) -> float:
    """Mean of a line that starts at `start` and moves by `slope` a second, never below 0."""
    end = start + slope * seconds
    if end >= 0.0:
        return (start + end) / 2
    emptied_after = start / -slope
    return start * emptied_after / 2 / seconds


@dataclass(frozen=True)
class RoomFigures:
    """What the line cost the visitors over a run."""

    visitors_waited: int            # arrivals that joined the line (requests, one a visitor)
    visitor_seconds_waited: int     # the line, summed over seconds
    longest_wait_s: int             # the last arrival of the worst second, FIFO
    p90_wait_s: int                 # of the visitors who waited
    overload_episodes: int          # runs of seconds with a line
    react_violation_seconds: int    # seconds those episodes cost before the room held

    def as_dict(self) -> dict:
        return asdict(self)


class RoomTally:
    """The line and its figures, a part of the trace at a time (the line carries over)."""

    def __init__(self, pod_slo_rps: float, react_s: int) -> None:
        self.pod_slo_rps = pod_slo_rps
        self.react_s = react_s
        self.line = 0.0
        self.into_episode = 0
        self.arrived = 0.0                      # cumulative arrivals before this part
        self.joined = 0.0
        self.waited = 0.0
        self.episodes = 0
        self.react = 0
        # Only the seconds with a line (and the one that empties it) are kept, for waits.
        self._seconds: list[np.ndarray] = []
        self._arrived: list[np.ndarray] = []
        self._let_in: list[np.ndarray] = []
        self._joined: list[np.ndarray] = []

    def add(self, start: int, arrivals: np.ndarray, ready_capacity: np.ndarray) -> np.ndarray:
        """The seconds [start, start + len) : returns which of them miss the SLO."""
        capacity = room_capacity(ready_capacity, self.pod_slo_rps)
        line = line_after(arrivals, capacity, self.line)
        before = np.concatenate([[self.line], line[:-1]])
        missed, into = react_violations(line, self.react_s, self.into_episode)
        waiting = line > 0.0
        self.episodes += int(np.count_nonzero(waiting & (before <= 0.0)))
        self.react += int(np.count_nonzero(missed))
        joined = line - before + np.minimum(before, capacity)
        self.joined += float(joined[waiting].sum())
        self.waited += float(line.sum())
        kept = waiting | (before > 0.0)
        if kept.any():
            arrived = self.arrived + np.cumsum(arrivals)
            self._seconds.append(np.flatnonzero(kept) + start)
            self._arrived.append(arrived[kept])
            self._let_in.append((arrived - line)[kept])
            self._joined.append(np.where(waiting, joined, 0.0)[kept])
        self.arrived += float(np.sum(arrivals))
        self.line, self.into_episode = float(line[-1]), into
        return missed

    def figures(self) -> RoomFigures:
        longest = p90 = 0
        if self._seconds:
            seconds = np.concatenate(self._seconds)
            arrived, let_in = np.concatenate(self._arrived), np.concatenate(self._let_in)
            joined = np.concatenate(self._joined)
            # The last arrival of second t is let in at the first second whose cumulative
            # admissions reach the arrivals up to t (FIFO); a line still there at the end
            # waits until the end of the trace.
            turn = np.searchsorted(let_in, arrived * (1 - 1e-12), side="left")
            served_at = np.where(turn < len(seconds),
                                 seconds[np.minimum(turn, len(seconds) - 1)], seconds[-1])
            waits = (served_at - seconds)[joined > 0]
            weights = joined[joined > 0]
            if len(waits):
                longest = int(waits.max())
                order = np.argsort(waits, kind="stable")
                share = np.cumsum(weights[order]) / weights.sum()
                p90 = int(waits[order][min(int(np.searchsorted(share, 0.9)), len(waits) - 1)])
        return RoomFigures(int(round(self.joined)), int(round(self.waited)), longest, p90,
                           self.episodes, self.react)
