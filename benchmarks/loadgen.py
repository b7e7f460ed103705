"""Load generators for the benchmarks: wrk for peak throughput, an open loop for latency.

wrk (Debian's `wrk`) finds the peak: a closed loop of keep-alive connections. Latency at a
given rate needs an *open* loop — requests sent on a fixed schedule whatever the server does —
or a slow server quietly lowers its own load and its percentiles look better than they are.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class Throughput:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int = 0  # answered in the run


def _milliseconds(value: str) -> float:
    found = re.match(r"([\d.]+)(us|ms|s|m)$", value)
    if found is None:  # wrk prints nan when nothing was answered
        return float("nan")
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _percentile(output: str, percent: int) -> str:
    """A percentile of wrk's "Latency Distribution", read from its own line: the thread
    stats above it end in a share of their own ("Latency 4.36ms 1.05ms 14.99ms 78.50%"),
    which an unanchored "50%" would take for the median."""
    return re.search(rf"^\s*{percent}%\s+(\S+)", output, re.MULTILINE).group(1)


def wrk(url: str, *, seconds: int = 8, connections: int = 16, script: str | None = None,
        threads: int = 1, headers: dict[str, str] | None = None) -> Throughput:
    """Peak throughput of `url` with wrk, and its latency percentiles at that peak."""
    if not shutil.which("wrk"):
        raise SystemExit("benchmarks need wrk: apt-get install -y wrk")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", script]
    for name, value in (headers or {}).items():
        command[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _milliseconds(_percentile(output, 50))
    p99 = _milliseconds(_percentile(output, 99))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    answered = int(re.search(r"(\d+) requests in", output).group(1))
    return Throughput(rate, p50, p99, int(bad.group(1)) if bad else 0, answered)


@dataclass(frozen=True)
class PacedResult:
    offered_per_s: float
    completed: int
    errors: int
    p50_ms: float
    p99_ms: float


async def _paced(make_request, rate: float, seconds: float) -> PacedResult:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        total = int(rate * seconds)

        async def one(index: int) -> None:
            nonlocal errors
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            method, url, kwargs = make_request(index)
            try:
                async with session.request(method, url, **kwargs) as response:
                    await response.read()
                    if response.status >= 300 and response.status != 409:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            # Measured from when the request was due, not when it left: no coordinated omission.
            latencies.append((time.perf_counter() - scheduled) * 1000)

        await asyncio.gather(*(one(i) for i in range(total)))
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return PacedResult(rate, len(latencies), errors, pick(0.50), pick(0.99))


def paced(make_request, rate: float, seconds: float = 8.0) -> PacedResult:
    """Send `rate` requests per second on a fixed schedule; `make_request(i)` builds each."""
    return asyncio.run(_paced(make_request, rate, seconds))
