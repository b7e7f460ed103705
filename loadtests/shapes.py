"""Load shapes: a traffic trace replayed as an open arrival rate of shopper visits.

Every shape sets the user count to `rate x pacing` (see `loadtests.arrivals`): paced users
each start one visit per `--pacing` seconds, so the shape controls visits per second, not
concurrency, and a slow server cannot quietly lower the load it is offered.

    locust -f loadtests/locustfile.py --headless --trace flash-sale
    locust -f loadtests/locustfile.py --headless --trace my.csv --compress 60 --scale 0.2
    LOCUST_TRACE=/config/trace.csv locust -f loadtests/locustfile.py ...   (env vars work too)

Without a trace, `TraceShape` keeps `-u` users (spawned at `-r`) for `-t`, like plain Locust.
"""

from __future__ import annotations

import logging
import sys

from locust import LoadTestShape, events
from locust.runners import WorkerRunner

from loadtests.arrivals import DEFAULT_PACING_S
from loadtests.trace import (
    READY_MADE,
    Replay,
    ReplayError,
    ReplaySettings,
    TraceFileError,
    build_replay,
    positive,
)

log = logging.getLogger("peakshop.loadtests")


@events.init_command_line_parser.add_listener
def add_replay_arguments(parser) -> None:
    parser.add_argument("--trace", env_var="LOCUST_TRACE", default=None,
                        help="Trace CSV (minute|second,rps[,orders_per_s]) or one of "
                             f"{', '.join(READY_MADE)}")
    parser.add_argument("--compress", env_var="LOCUST_COMPRESS", type=float, default=None,
                        help="Play the trace this many times faster (default: the ready-made "
                             "trace's own, else 1)")
    parser.add_argument("--scale", env_var="LOCUST_SCALE", type=float, default=None,
                        help="Multiply every rate (default: the ready-made trace's own, else 1)")
    parser.add_argument("--pacing", env_var="LOCUST_PACING", type=float,
                        default=DEFAULT_PACING_S,
                        help="Seconds between the visits one shopper starts: users = rate x "
                             "pacing; a visit longer than this drops arrivals")


def _number(value) -> float | None:
    # The web UI hands options back as strings.
    return None if value in (None, "") else float(value)


def replay_settings(options, trace: str | None = None) -> ReplaySettings | None:
    """The replay asked for by `trace` or the parsed options; None when there is none."""
    name = trace or getattr(options, "trace", None)
    if not name:
        return None
    return ReplaySettings(trace=name, compress=_number(getattr(options, "compress", None)),
                          scale=_number(getattr(options, "scale", None)))


def pacing_of(options) -> float:
    """The --pacing option, checked."""
    pacing = _number(getattr(options, "pacing", None))
    return DEFAULT_PACING_S if pacing is None else positive("pacing", pacing)


class TraceShape(LoadTestShape):
    """Replays `--trace` (or the class's own `trace`) at `--compress` and `--scale`."""

    use_common_options = True   # without a trace, -u/-r/-t keep their usual meaning
    trace: str | None = None    # ready-made name or CSV path; subclasses fix one

    def __init__(self) -> None:
        super().__init__()
        self._replay: tuple[ReplaySettings, Replay] | None = None
        self.current_rate: float | None = None  # visits/s asked for now, for the recorder

    def replay(self) -> Replay | None:
        """The replay the options ask for, built once per distinct setting."""
        settings = replay_settings(self.runner.environment.parsed_options, self.trace)
        if settings is None:
            return None
        if self._replay is None or self._replay[0] != settings:
            self._replay = (settings, build_replay(settings))
        return self._replay[1]

    def fixed_users(self) -> int:
        """Users of classes with a `fixed_count` (the merchant), outside the paced crowd."""
        return sum(user_class.fixed_count for user_class in self.runner.user_classes)

    def tick(self):
        options = self.runner.environment.parsed_options
        # Locust leaves --run-time to shapes that use the common options.
        if getattr(options, "run_time", None) and self.get_run_time() >= options.run_time:
            return None
        replay = self.replay()
        if replay is None:
            self.current_rate = None
            return int(options.num_users or 1), float(options.spawn_rate or 1)
        answer = replay.tick(self.get_run_time(), pacing_of(options), self.fixed_users())
        self.current_rate = replay.rate_at(self.get_run_time())
        return answer


class ChristmasWeek(TraceShape):
    """18-24 December of the 2024 season, per minute, 720x faster (14 minutes)."""

    trace = "christmas-week"


class BlackFriday(TraceShape):
    """Black Friday 2024 from its midnight doorbuster, 96x faster (15 minutes)."""

    trace = "black-friday"


class FlashSale(TraceShape):
    """10 visits/s, then a launch at second 120 that reaches 8x in 20 s and decays."""

    trace = "flash-sale"


class Surge(TraceShape):
    """15 visits/s, then an unannounced surge to 120/s within 4 s for a minute: the crowd
    the waiting room is for (see docs/waiting-room.md)."""

    trace = "surge"


class Steady(TraceShape):
    """A constant 10 visits/s (times --scale) for 10 minutes: the baseline to compare with."""

    trace = "steady"


@events.init.add_listener
def check_replay(environment, **_kwargs) -> None:
    """Stop at start-up with one line when the trace or its settings cannot be replayed."""
    shape = environment.shape_class
    if not isinstance(shape, TraceShape) or isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    try:
        pacing_of(options)
        settings = replay_settings(options, shape.trace)
        if settings is not None:
            replay = build_replay(settings)
            log.info("replaying %s: %d s, %.1f visits/s at most, %.0f visits in all",
                     settings.trace, replay.duration_s, replay.rates.max(),
                     replay.total_arrivals)
    except (ReplayError, TraceFileError) as problem:
        sys.stderr.write(f"locust: {problem}\n")
        sys.exit(2)
