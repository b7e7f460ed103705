"""What the waiting room costs the storefront per request, side by side with the product page.

    python -m benchmarks.waiting_room [--requests 1500]

One `peakshop serve` (gunicorn, one sync worker, SQLite, a real redis-server) answers, one
request at a time on a keep-alive connection:

- the product page (JSON) with the room off: the gate classes the request and remembers for a
  second that the shop has no room (no Redis);
- the same page with the room on and a valid pass (an HMAC check, no Redis);
- a new visitor told to wait (one Lua script in Redis, a signed place, a 503 problem);
- a visitor coming back with their place (the same, with the place read back);
- the same waiting answer as an HTML page (the template and a cookie).

The figure is the server's CPU time per request (the worker's user + system time from psutil,
divided by the requests), which, unlike latency, does not depend on what else the machine is
doing; the wall time per request is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import psutil
import requests

from shop.core.migrate import upgrade
from tests.support.live import LiveServer
from tests.support.servers import RedisServer

HEADER = "Peakshop-Waiting-Room"


def worker_cpu_s(pidfile: str) -> float:
    """CPU seconds used so far by gunicorn's workers (not the arbiter)."""
    with open(pidfile) as handle:
        arbiter = psutil.Process(int(handle.read().strip()))
    total = 0.0
    for worker in arbiter.children():
        times = worker.cpu_times()
        total += times.user + times.system
    return total


def measure(pidfile: str, count: int, send: Callable[[], requests.Response],
            expect: int) -> tuple[float, float]:
    """(server CPU ms, wall ms) per request over `count` requests of `send`."""
    for _ in range(50):  # warm-up: caches, the Lua script, the connection
        send()
    cpu_before, wall_before = worker_cpu_s(pidfile), time.perf_counter()
    for _ in range(count):
        status = send().status_code
        if status != expect:
            raise SystemExit(f"expected {expect}, got {status}")
    wall = time.perf_counter() - wall_before
    return (1000 * (worker_cpu_s(pidfile) - cpu_before) / count, 1000 * wall / count)


def seed_shop(http, url: str) -> tuple[str, dict[str, str]]:
    """A merchant with one product, MUG, of plenty of stock: its slug and auth header."""
    merchant = http.post(url + "/api/v1/merchants", json={
        "name": "Bench", "email": "bench@example.com", "password": "long enough"}).json()
    slug, auth = merchant["merchant"]["slug"], {"Authorization": f"Bearer {merchant['token']}"}
    http.post(f"{url}/api/v1/shops/{slug}/products", headers=auth, json={
        "sku": "MUG", "name": "Mug", "price": {"amount": 1250, "currency": "EUR"},
        "stock": 10**6})
    return slug, auth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()
    redis_server = RedisServer.start()
    folder = tempfile.mkdtemp(prefix="peakshop-bench-room-")
    database_url = f"sqlite:///{folder}/peakshop.sqlite3"
    upgrade(database_url)
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=folder, workers=1)
    try:
        session = requests.Session()
        slug, auth = seed_shop(session, server.url)
        product = f"{server.url}/api/v1/shops/{slug}/products/MUG"
        page = f"{server.url}/shops/{slug}/"
        room = f"{server.url}/api/v1/shops/{slug}/waiting-room"

        results = {"product page, room off": measure(
            server.pidfile, args.requests, lambda: session.get(product), 200)}

        # A pass: let in once by a room that admits everyone at once.
        session.put(room, headers=auth, json={"mode": "on", "admit_per_s": 100000})
        time.sleep(1.2)   # the off-cache of the worker expires; tokens accumulate
        granted = session.get(product)
        if HEADER not in granted.headers:
            raise SystemExit(f"no pass handed over: {granted.status_code} {granted.text[:300]}")
        pass_token = granted.headers[HEADER]
        results["product page, room on, with a pass"] = measure(
            server.pidfile, args.requests,
            lambda: session.get(product, headers={HEADER: pass_token}), 200)

        # A line that does not move: every visitor waits.
        session.put(room, headers=auth, json={"mode": "on", "admit_per_s": 0.01})
        results["new visitor told to wait (JSON)"] = measure(
            server.pidfile, args.requests, lambda: session.get(product), 503)
        place = session.get(product).headers[HEADER]
        results["visitor back with a place (JSON)"] = measure(
            server.pidfile, args.requests,
            lambda: session.get(product, headers={HEADER: place}), 503)
        results["new visitor told to wait (HTML page)"] = measure(
            server.pidfile, args.requests,
            lambda: requests.get(page, headers={"Connection": "close"}), 503)
    finally:
        server.stop()
        redis_server.stop()
    baseline = results["product page, room off"][0]
    print(f"server CPU per request, one gunicorn worker, {args.requests} requests each "
          f"({os.cpu_count()} cores shared, load average {os.getloadavg()[0]:.1f})")
    for name, (cpu_ms, wall_ms) in results.items():
        print(f"  {name:40s} {cpu_ms:6.2f} ms CPU ({cpu_ms / baseline:4.2f}x)  "
              f"{wall_ms:6.2f} ms wall")


if __name__ == "__main__":
    main()
