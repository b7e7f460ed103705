"""What sampling a pod's busy workers costs its gunicorn master: one read of the workers'
in-flight gauge files (`shop.core.pod_agent.in_flight_of`), done 20 times a second.

The files are written by prometheus_client itself, as the workers write them (a gauge in
`livesum` mode beside the other gauges a worker keeps), so the read is the real one.

    python -m benchmarks.busy_workers [--workers N] [--reads N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from prometheus_client.mmap_dict import MmapedDict

from shop.core.pod_agent import BUSY_SAMPLE_EVERY_S, IN_FLIGHT_GAUGE, in_flight_of


def gauge_files(directory: str, workers: int) -> list[int]:
    """A livesum gauge file per worker, holding the in-flight gauge and the gate's two."""
    pids = list(range(100_000, 100_000 + workers))
    for pid in pids:
        values = MmapedDict(os.path.join(directory, f"gauge_livesum_{pid}.db"))
        for name in (IN_FLIGHT_GAUGE, "peakshop_gate_requests_waiting",
                     "peakshop_gate_upstream_in_flight"):
            key = json.dumps((name, name, [], [], "help"), sort_keys=True)
            values.write_value(key, 1.0 if name == IN_FLIGHT_GAUGE else 0.0, 0.0)
        values.close()
    return pids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--reads", type=int, default=2000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        pids = gauge_files(directory, options.workers)
        assert in_flight_of(directory, pids) == options.workers
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(options.reads):
            in_flight_of(directory, pids)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    per_read_us = 1e6 * cpu / options.reads
    print(f"{options.workers} workers: {per_read_us:.0f} us CPU per read "
          f"({1e6 * wall / options.reads:.0f} us wall); at one read every "
          f"{BUSY_SAMPLE_EVERY_S * 1000:.0f} ms, {per_read_us / BUSY_SAMPLE_EVERY_S / 1e4:.3f} %"
          f" of one core")


if __name__ == "__main__":
    main()
