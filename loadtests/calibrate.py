"""How many visits per second can one Locust process offer? A locustfile to find out.

Each visit is one `GET /` from a paced user (the same open-arrival machinery as the shoppers),
and the offered rate climbs in steps, so the timeline shows where arrivals start being dropped
because this process, not the target, ran out of CPU. Point it at a trivially fast target
(`benchmarks/locust_capacity.py` starts one and does the bookkeeping):

    locust -f loadtests/calibrate.py --host http://127.0.0.1:8080 --headless \
        --steps 200,400,800 --step-s 15 --timeline-file calibrate.jsonl
"""

from __future__ import annotations

import random
import time

from locust import FastHttpUser, LoadTestShape, events, task

from loadtests.arrivals import DEFAULT_PACING_S, PacedTimetable, users_for_rate
from loadtests.recorder import Recorder

recorder: Recorder | None = None
SPAWN_RATE = 1000.0


@events.init_command_line_parser.add_listener
def add_arguments(parser) -> None:
    parser.add_argument("--steps", default="100,200,400", help="Offered visits/s, one per step")
    parser.add_argument("--step-s", type=float, default=15.0, help="Seconds per step")
    parser.add_argument("--pacing", type=float, default=DEFAULT_PACING_S,
                        help="Seconds between one user's visits")
    parser.add_argument("--timeline-file", default=None, help="Write per-second JSON lines here")


@events.init.add_listener
def on_init(environment, **_kwargs) -> None:
    global recorder
    recorder = Recorder(environment, environment.parsed_options.timeline_file)


def step_rates(options) -> list[float]:
    return [float(rate) for rate in str(options.steps).split(",") if rate.strip()]


class PingUser(FastHttpUser):
    """One GET per visit, on a fixed timetable."""

    def on_start(self) -> None:
        self.timetable = PacedTimetable(self.environment.parsed_options.pacing)
        self.wait()

    def wait_time(self) -> float:
        return self.timetable.next_wait(time.time(), random.random(), recorder.arrivals_dropped)

    @task
    def ping(self) -> None:
        recorder.visit_started(late=self.timetable.is_late(time.time()))
        with self.client.get("/", catch_response=True) as response:
            ok = response.status_code == 200
            if ok:
                response.success()
            else:
                response.failure(f"status {response.status_code}")
        recorder.visit_finished(ok)


class StepShape(LoadTestShape):
    """`--steps` offered rates, `--step-s` seconds each."""

    current_rate: float | None = None

    def tick(self):
        options = self.runner.environment.parsed_options
        rates = step_rates(options)
        step = int(self.get_run_time() // options.step_s)
        if step >= len(rates):
            return None
        self.current_rate = rates[step]
        return users_for_rate(rates[step], options.pacing), SPAWN_RATE
