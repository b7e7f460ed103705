"""Trace replay: compression, scaling, ready-made traces and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from loadtests.trace import (
    READY_MADE,
    ReplayError,
    ReplaySettings,
    TraceFileError,
    build_replay,
    compressed_rates,
    read_trace,
)
from scaler.simulate.trace import trace_from_rates

PER_SECOND = trace_from_rates([10, 20, 30, 40], step_s=1)
PER_MINUTE = trace_from_rates([60, 120, 30], step_s=60)


@pytest.mark.parametrize(("trace", "compress", "scale", "expected"), [
    (PER_SECOND, 1, 1, [10, 20, 30, 40]),
    (PER_SECOND, 1, 0.5, [5, 10, 15, 20]),
    (PER_SECOND, 2, 1, [15, 35]),                       # mean of each pair of seconds
    (PER_SECOND, 4, 2, [50]),
    (PER_SECOND, 1.5, 1, [40 / 3, 80 / 3, 40]),         # slices cut across trace seconds
    (PER_SECOND, 0.5, 1, [10, 10, 20, 20, 30, 30, 40, 40]),  # slowed down: each second twice
    (PER_SECOND, 3, 1, [20, 40]),                       # the last slice is cut short
    (PER_MINUTE, 60, 1, [60, 120, 30]),                 # a minute per second
    (PER_MINUTE, 120, 1, [90, 30]),
    (PER_MINUTE, 30, 1, [60, 60, 120, 120, 30, 30]),
])
def test_compressed_rates(trace, compress, scale, expected):
    assert compressed_rates(trace, compress, scale) == pytest.approx(expected)


@pytest.mark.parametrize("compress", [1, 2, 7, 60, 333.3])
def test_compression_keeps_the_shape_and_divides_the_volume(compress):
    """Playing faster keeps every rate's mean: the visits offered shrink by the factor."""
    trace = trace_from_rates(np.linspace(5, 80, 600), step_s=1)
    rates = compressed_rates(trace, compress)
    full_seconds = int(600 // compress)
    assert rates[:full_seconds].sum() == pytest.approx(
        trace.rps[: int(full_seconds * compress)].sum() / compress, rel=0.02)
    assert rates.max() <= 80 + 1e-9
    assert rates.min() >= 5 - 1e-9


@pytest.mark.parametrize(("value", "flag"), [(0, "compress"), (-2, "compress"),
                                             (float("nan"), "compress")])
def test_compression_must_be_positive(value, flag):
    with pytest.raises(ReplayError, match=f"--{flag} must be a number above 0"):
        compressed_rates(PER_SECOND, value)


def test_scale_must_be_positive():
    with pytest.raises(ReplayError, match="--scale must be a number above 0"):
        build_replay(ReplaySettings("flash-sale", scale=0))


def test_replay_rate_and_end():
    replay = build_replay(ReplaySettings("flash-sale"))
    assert replay.duration_s == 600
    assert replay.rate_at(0) == pytest.approx(9.65)
    assert replay.rate_at(0.99) == pytest.approx(9.65)
    assert replay.rate_at(135.2) == pytest.approx(63.25)
    assert replay.rate_at(599.9) is not None
    assert replay.rate_at(600) is None
    assert replay.rate_at(-1) == pytest.approx(9.65)


@pytest.mark.parametrize(("name", "step_s", "steps"), [
    ("christmas-week", 60, 7 * 24 * 60),
    ("black-friday", 60, 24 * 60),
    ("flash-sale", 1, 600),
    ("steady", 60, 10),
])
def test_ready_made_traces_are_shipped(name, step_s, steps):
    trace = read_trace(name)
    assert (trace.step_s, len(trace.rps)) == (step_s, steps)
    assert trace.rps.min() > 0


# The surge is the waiting room's short rehearsal (2.5 minutes): see
# test_waiting_room_rehearsal.py.
@pytest.mark.parametrize("name", [name for name in READY_MADE if name != "surge"])
def test_ready_made_replays_fit_a_coffee_break(name):
    """Each ready-made trace replays in 10-15 minutes at its own compression."""
    replay = build_replay(ReplaySettings(name))
    assert 600 <= replay.duration_s <= 900
    assert (replay.compress, replay.scale) == (READY_MADE[name].compress,
                                               READY_MADE[name].scale)


def test_flags_override_the_ready_made_settings():
    replay = build_replay(ReplaySettings("black-friday", compress=1440, scale=0.5))
    assert replay.duration_s == 60
    assert (replay.compress, replay.scale) == (1440, 0.5)


def test_a_trace_file_replays_at_face_value(tmp_path):
    path = tmp_path / "launch.csv"
    path.write_text("second,rps\n0,4\n1,8\n2,12\n")
    replay = build_replay(ReplaySettings(str(path)))
    assert (replay.compress, replay.scale) == (1.0, 1.0)
    assert list(replay.rates) == [4, 8, 12]


def test_an_unknown_trace_names_both_ways_to_fix_it(tmp_path):
    with pytest.raises(ReplayError, match="neither a file nor one of christmas-week"):
        build_replay(ReplaySettings(str(tmp_path / "nope.csv")))


def test_a_malformed_trace_file_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("hour,visits\n0,4\n")
    with pytest.raises(TraceFileError, match="not a trace header"):
        build_replay(ReplaySettings(str(path)))
