"""What SLO counting costs: one request's recording, and one burn-rate evaluation's reads.

    python -m benchmarks.slo_counting [--calls 20000] [--repeat 3]

Redis is a real server started for the run on loopback (TCP). Recording at once is a
pipelined HINCRBY + EXPIRE (the worker's e-mail counts); batched is what the storefront's
after_request hook does per request (shop.status.slo_batch), flushes included; the evaluation
reads the 6-hour window of every component (5 x 361 HMGETs, pipelined). Each figure is the
best of `--repeat` runs: machines are noisy.
"""

from __future__ import annotations

import argparse
import time

import redis

from shop.status import burnrate, slo_batch, slo_counter
from shop.status.components import Component
from tests.support.servers import RedisServer


def best_of(repeat: int, run) -> float:
    return min(run() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    server = RedisServer.start()
    try:
        client = redis.Redis.from_url(server.url)
        now = time.time()

        def record_run() -> float:
            started = time.perf_counter()
            for index in range(options.calls):
                slo_counter.record(client, "storefront", good=1, bad=0, now=now - index % 21600)
            return (time.perf_counter() - started) / options.calls

        def evaluate_run() -> float:
            started = time.perf_counter()
            for component in Component:
                slo_counter.window_counts(client, component.value, burnrate.windows_needed(),
                                          now=now)
            return time.perf_counter() - started

        batch = slo_batch.SloBatch(client)

        def batched_run() -> float:
            started = time.perf_counter()
            for index in range(options.calls):
                batch.add("storefront", good=1, bad=0, now=now - index % 21600)
            batch.flush()
            return (time.perf_counter() - started) / options.calls

        per_record = best_of(options.repeat, record_run)
        per_batched = best_of(options.repeat, batched_run)
        per_evaluation = best_of(options.repeat, evaluate_run)
        print(f"record (per request, written at once): {per_record * 1e6:.0f} us")
        print(f"batched (per request, counted in the process, flush included): "
              f"{per_batched * 1e6:.1f} us")
        print(f"evaluation reads (5 components, 6 h): {per_evaluation * 1e3:.1f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
