"""Does a flood of wrong-password sign-ins starve shoppers? Product page latency, side by side.

    python -m benchmarks.signin_flood [--seconds 10] [--clients 4] [--no-unthrottled]

One storefront under gunicorn (2 sync workers, as `peakshop serve` runs it) on SQLite and a
real Redis. A shopper reads the product page in a closed loop, first alone ("quiet"), then
while several flood clients, each from its own loopback address (127.0.0.11, .12, ...),
post wrong-password sign-ins at a steady rate each (open loop, `--rate`) ("flood").
Optionally the flood is repeated against a second server whose throttle allows a million
attempts a minute and no per-host cap on password checks ("flood, no throttle"), to show what
the throttle saves. For each phase: the product page's
p50/p90, the requests served, and the server's CPU time per request (psutil: user + system
of the gunicorn master and workers, divided by every request answered in the phase).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from shop.core.migrate import upgrade
from tests.support.live import LiveServer
from tests.support.servers import RedisServer

UNTHROTTLED = "1000000 per minute"


@dataclass
class Phase:
    name: str
    product_latencies_ms: list[float]
    flood_answers: dict[int, int]
    cpu_s: float
    seconds: float

    @property
    def requests(self) -> int:
        return len(self.product_latencies_ms) + sum(self.flood_answers.values())

    def row(self) -> str:
        lat = sorted(self.product_latencies_ms)
        p50 = statistics.median(lat)
        p90 = lat[int(len(lat) * 0.9)]
        cpu_ms = 1000 * self.cpu_s / max(1, self.requests)
        flood = ", ".join(f"{status}: {count}" for status, count in
                          sorted(self.flood_answers.items())) or "-"
        return (f"{self.name:<20} {p50:>8.1f} {p90:>8.1f} {len(lat) / self.seconds:>9.1f} "
                f"{cpu_ms:>10.2f}   {flood}")


def server_cpu_s(server: LiveServer) -> float:
    root = psutil.Process(server.process.pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def seed(url: str) -> str:
    merchant = requests.post(url + "/api/v1/merchants", json={
        "name": "Flood", "email": "owner@example.com", "password": "correct horse"}).json()
    slug = merchant["merchant"]["slug"]
    requests.post(f"{url}/api/v1/shops/{slug}/products",
                  headers={"Authorization": f"Bearer {merchant['token']}"},
                  json={"sku": "BENCH", "name": "Bauble", "price": 1299, "stock": 10**6}
                  ).raise_for_status()
    return slug


def shopper(host: str, port: int, path: str, stop: threading.Event, out: list[float]) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    while not stop.is_set():
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        out.append(1000 * (time.perf_counter() - started))


def flooder(port: int, number: int, rate: float, stop: threading.Event,
            answers: dict[int, int], lock: threading.Lock) -> None:
    source = (f"127.0.0.{11 + number}", 0)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                            source_address=source)
    attempt = 0
    next_at = time.monotonic()
    while not stop.is_set():
        # Open loop: attempts leave at `rate` per second whether or not answers came back
        # (a late answer only delays the next send, it never lowers the offered rate).
        next_at += 1 / rate
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        attempt += 1
        # Credential stuffing: a new e-mail each time, so only the per-client limit helps;
        # every tenth guess aims at the real owner's account.
        email = "owner@example.com" if attempt % 10 == 0 else f"c{number}-{attempt}@example.com"
        body = json.dumps({"email": email, "password": f"guess-{attempt}"})
        connection.request("POST", "/api/v1/tokens", body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        with lock:
            answers[response.status] = answers.get(response.status, 0) + 1
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                                    source_address=source)


def run_phase(name: str, server: LiveServer, slug: str, seconds: float, clients: int,
              rate: float = 0) -> Phase:
    host, port = server.url.removeprefix("http://").split(":")
    stop = threading.Event()
    latencies: list[float] = []
    answers: dict[int, int] = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=shopper, args=(
        host, int(port), f"/api/v1/shops/{slug}/products/BENCH", stop, latencies))]
    threads += [threading.Thread(target=flooder, args=(int(port), n, rate, stop, answers, lock))
                for n in range(clients)]
    cpu_before = server_cpu_s(server)
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return Phase(name, latencies, answers, server_cpu_s(server) - cpu_before, elapsed)


def start(workdir: Path, name: str, redis_url: str, extra_env: dict) -> LiveServer:
    database_url = f"sqlite:///{workdir / name}.sqlite3"
    upgrade(database_url)
    return LiveServer.start(database_url=database_url, redis_url=redis_url,
                            instance_path=str(workdir / name), workers=2,
                            extra_env={"PEAKSHOP_LOG_JSON": "false", **extra_env})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=25,
                        help="sign-in attempts per second offered by each flood client")
    parser.add_argument("--no-unthrottled", action="store_true",
                        help="skip the comparison run without a throttle")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="peakshop-signin-flood-"))
    redis_server = RedisServer.start()
    phases = []
    try:
        server = start(workdir, "throttled", redis_server.url, {})
        try:
            slug = seed(server.url)
            phases.append(run_phase("quiet", server, slug, args.seconds, 0))
            phases.append(run_phase(f"flood {args.clients}x{args.rate:g}/s", server, slug,
                                    args.seconds, args.clients, args.rate))
        finally:
            server.stop()
        if not args.no_unthrottled:
            server = start(workdir, "unthrottled", redis_server.url,
                           {"PEAKSHOP_SIGNIN_CLIENT_LIMIT": UNTHROTTLED,
                            "PEAKSHOP_SIGNIN_ACCOUNT_LIMIT": UNTHROTTLED,
                            "PEAKSHOP_SIGNIN_HOST_RATE": UNTHROTTLED,
                            "PEAKSHOP_SIGNIN_CONCURRENCY": "0"})
            try:
                slug = seed(server.url)
                phases.append(run_phase("flood, no throttle", server, slug, args.seconds,
                                        args.clients, args.rate))
            finally:
                server.stop()
    finally:
        redis_server.stop()
    print(f"gunicorn 2 sync workers, SQLite; {args.seconds:.0f} s per phase; "
          f"machine load average {psutil.getloadavg()[0]:.1f} on {psutil.cpu_count()} CPUs")
    print(f"{'phase':<20} {'p50 ms':>8} {'p90 ms':>8} {'product/s':>9} {'CPU ms/req':>10}"
          "   sign-in answers")
    for phase in phases:
        print(phase.row())
    quiet, flood = phases[0], phases[1]
    ratio = statistics.median(flood.product_latencies_ms) / statistics.median(
        quiet.product_latencies_ms)
    print(f"product page p50 under flood / quiet: {ratio:.2f}x (target: within 2x)")


if __name__ == "__main__":
    main()
