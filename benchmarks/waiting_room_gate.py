"""What a waiting answer costs the server: from the edge gate, or from FastLine in gunicorn.

    python -m benchmarks.waiting_room_gate [--requests 1500]

Two storefronts, one after the other, each with one sync gunicorn worker, SQLite and its own
real redis-server: `peakshop serve` (the room answered by `gate.FastLine` inside the worker)
and `peakshop serve --gate` (the room answered by the gate in front). Each answers, one
request at a time, each on a new connection (as the arrivals of a crowd and its refreshes,
seconds apart, come):

- a new visitor told to wait (JSON): the Lua script, a signed place, the 503 problem;
- a visitor coming back with their place (JSON);
- the same two for a browser (the HTML waiting page, the place in its cookie): rendered by
  Flask in gunicorn, or by the gate from the same template;
- the product page (JSON) with the room off, for scale; through the gate it is proxied.

The figure is the server's CPU time per request from psutil: gunicorn's workers, plus the
gate process when there is one (the redis-server's own time is left out of both). CPU time,
unlike latency, hardly depends on what else the machine does; the ratios within one run are
the figures to read on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import psutil
import requests

from benchmarks.waiting_room import seed_shop
from shop.core.migrate import upgrade
from tests.support.live import LiveServer
from tests.support.servers import RedisServer

HEADER = "Peakshop-Waiting-Room"
CLOSE = {"Connection": "close"}
ROOM_COOKIE = "peakshop_waiting_room"


def server_cpu_s(server: LiveServer, gated: bool) -> float:
    """CPU seconds used so far by gunicorn's workers and, when gated, the gate."""
    with open(server.pidfile) as handle:
        arbiter = psutil.Process(int(handle.read().strip()))
    processes = arbiter.children() + ([psutil.Process(server.process.pid)] if gated else [])
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


def measure(server: LiveServer, gated: bool, count: int,
            send: Callable[[], requests.Response], expect: int) -> tuple[float, float]:
    """(server CPU ms, wall ms) per request over `count` requests of `send`."""
    for _ in range(50):  # warm-up: caches, the Lua script
        send()
    cpu_before, wall_before = server_cpu_s(server, gated), time.perf_counter()
    for _ in range(count):
        answer = send()
        if answer.status_code != expect:
            raise SystemExit(f"expected {expect}, got {answer.status_code}: {answer.text[:200]}")
    wall = time.perf_counter() - wall_before
    return (1000 * (server_cpu_s(server, gated) - cpu_before) / count, 1000 * wall / count)


def run_one(gated: bool, count: int) -> dict[str, tuple[float, float]]:
    redis_server = RedisServer.start()
    folder = tempfile.mkdtemp(prefix="peakshop-bench-gate-")
    database_url = f"sqlite:///{folder}/peakshop.sqlite3"
    upgrade(database_url)
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=folder, workers=1,
                              extra_env={"PEAKSHOP_GATE": "true" if gated else "false"})
    try:
        slug, auth = seed_shop(requests, server.url)
        product = f"{server.url}/api/v1/shops/{slug}/products/MUG"
        results = {"product page, room off": measure(
            server, gated, count, lambda: requests.get(product, headers=CLOSE), 200)}
        # A line that does not move: every visitor waits.
        requests.put(f"{server.url}/api/v1/shops/{slug}/waiting-room", headers=auth,
                     json={"mode": "on", "admit_per_s": 0.01})
        time.sleep(1.2)   # "no room" is remembered for a second
        results["new visitor told to wait (JSON)"] = measure(
            server, gated, count, lambda: requests.get(product, headers=CLOSE), 503)
        place = requests.get(product).headers[HEADER]
        results["visitor back with a place (JSON)"] = measure(
            server, gated, count, lambda: requests.get(product, headers={HEADER: place,
                                                                         **CLOSE}), 503)
        shop_page, page_headers = f"{server.url}/shops/{slug}/", {"Accept": "text/html", **CLOSE}
        results["new browser told to wait (page)"] = measure(
            server, gated, count, lambda: requests.get(shop_page, headers=page_headers), 503)
        page_place = requests.get(shop_page).cookies[ROOM_COOKIE]
        results["browser back with a place (page)"] = measure(
            server, gated, count, lambda: requests.get(
                shop_page, headers=page_headers, cookies={ROOM_COOKIE: page_place}), 503)
        return results
    finally:
        server.stop()
        redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()
    in_app = run_one(False, args.requests)
    gated = run_one(True, args.requests)
    baseline = in_app["product page, room off"][0]
    print(f"server CPU per request, one gunicorn worker, {args.requests} requests each, a new "
          f"connection each ({os.cpu_count()} cores shared, load average "
          f"{os.getloadavg()[0]:.1f}); x = of the product page without the gate")
    print(f"  {'':36s} {'FastLine in gunicorn':>24s} {'the gate in front':>24s}")
    for name in in_app:
        cells = [f"{cpu:5.2f} ms ({cpu / baseline:4.2f}x)" for cpu, _ in (in_app[name],
                                                                         gated[name])]
        print(f"  {name:36s} {cells[0]:>24s} {cells[1]:>24s}")


if __name__ == "__main__":
    main()
