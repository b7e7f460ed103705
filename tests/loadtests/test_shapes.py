"""Load shapes as tables of tick() answers: trace replay with compression and scale, users as
rate x pacing plus the fixed merchant, the end of the replay.

The pure tables use `Replay.tick`, which every `TraceShape` delegates to; the last test drives
the Locust shape classes themselves in a separate Python process, since importing Locust
monkey-patches the standard library (see conftest).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from loadtests.trace import SPAWN_RATE, ReplaySettings, build_replay
from tests.loadtests.conftest import REPO


@pytest.mark.parametrize(("settings", "run_time_s", "pacing_s", "fixed", "expected"), [
    # flash-sale at face value: 9.65 visits/s at 0 s, 63.25 at 135 s, 12.93 at its end
    (ReplaySettings("flash-sale"), 0, 10, 0, (96, SPAWN_RATE)),
    (ReplaySettings("flash-sale"), 135.5, 10, 0, (632, SPAWN_RATE)),
    (ReplaySettings("flash-sale"), 135.5, 10, 1, (633, SPAWN_RATE)),   # plus the merchant
    (ReplaySettings("flash-sale"), 135.5, 2, 0, (126, SPAWN_RATE)),    # shorter pacing
    (ReplaySettings("flash-sale", scale=2), 135.5, 10, 0, (1265, SPAWN_RATE)),
    (ReplaySettings("flash-sale"), 599.5, 10, 0, (129, SPAWN_RATE)),
    (ReplaySettings("flash-sale"), 600, 10, 0, None),                  # over
    # twice as fast: wall second 67 is the mean of trace seconds 134 and 135
    (ReplaySettings("flash-sale", compress=2), 67.5, 10, 0, (595, SPAWN_RATE)),
    (ReplaySettings("flash-sale", compress=2), 300, 10, 0, None),
    # steady: 10 visits/s for 10 minutes, times --scale
    (ReplaySettings("steady"), 0, 10, 0, (100, SPAWN_RATE)),
    (ReplaySettings("steady", scale=3.5), 599, 10, 1, (351, SPAWN_RATE)),
    # Black Friday opens at 913.7 visits/s, x0.1 by default; one wall second = 96 s of trace
    (ReplaySettings("black-friday"), 0, 10, 0, (907, SPAWN_RATE)),
    (ReplaySettings("black-friday"), 900, 10, 0, None),
])
def test_replay_ticks(settings, run_time_s, pacing_s, fixed, expected):
    assert build_replay(settings).tick(run_time_s, pacing_s, fixed) == expected


def test_the_user_count_follows_the_launch():
    """Flash sale at face value: flat, up eightfold within 20 s of second 120, then down."""
    replay = build_replay(ReplaySettings("flash-sale"))
    users = [replay.tick(second, 10)[0] for second in range(600)]
    assert max(users[:120]) < 130
    assert max(users[120:145]) > 8 * 90
    assert users[599] < max(users) / 4


SHAPE_PROBE = """
import json, sys, time
from argparse import Namespace
from locust.env import Environment
from loadtests.locustfile import MerchantUser, ShopperUser
from loadtests import shapes

answers = {}
for name, trace, run_time in json.loads(sys.argv[1]):
    options = Namespace(trace=trace, compress=None, scale=None, pacing=10.0, run_time=None,
                        num_users=7, spawn_rate=3)
    shape = getattr(shapes, name)()
    environment = Environment(user_classes=[ShopperUser, MerchantUser], shape_class=shape,
                              parsed_options=options)
    environment.create_local_runner()
    shape.start_time = time.perf_counter() - run_time
    answers[f"{name} {trace} {run_time}"] = shape.tick()
print(json.dumps(answers))
"""


def test_locust_shape_classes_answer_like_their_replay():
    cases = [("FlashSale", None, 135.5), ("Steady", None, 10.5), ("BlackFriday", None, 0.5),
             ("ChristmasWeek", None, 420.5), ("TraceShape", "flash-sale", 599.5),
             ("TraceShape", "flash-sale", 600.5), ("TraceShape", None, 3.0)]
    completed = subprocess.run([sys.executable, "-c", SHAPE_PROBE, json.dumps(cases)],
                               cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    answers = json.loads(completed.stdout.strip().splitlines()[-1])
    names = {"FlashSale": "flash-sale", "Steady": "steady", "BlackFriday": "black-friday",
             "ChristmasWeek": "christmas-week"}
    for name, trace, run_time in cases:
        answer = answers[f"{name} {trace} {run_time}"]
        replay_name = trace or names.get(name)
        if replay_name is None:     # no trace: plain Locust, -u users at -r per second
            assert answer == [7, 3.0]
            continue
        expected = build_replay(ReplaySettings(replay_name)).tick(run_time, 10.0, 1)
        assert answer == (list(expected) if expected else None), (name, run_time)

