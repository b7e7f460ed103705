"""The benchmarks read wrk's own report: its rate and its latency percentiles.

The percentiles come from wrk's "Latency Distribution" lines. The thread statistics above
them end in a share ("Latency 4.36ms 1.05ms 14.99ms 78.50%"), which a search for "50%" anywhere
took for the median: the storefront benchmark printed `nan` for p50 whenever that share ended
in 50 (or in 99, for p99).
"""

from __future__ import annotations

import math
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks import loadgen

REPORT = """Running 8s test @ http://127.0.0.1:41234/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    23.10ms    4.02ms  41.99ms   78.50%
    Req/Sec   686.27     42.04   760.00     70.99%
  Latency Distribution
     50%   22.80ms
     75%   24.91ms
     90%   27.60ms
     99%   30.80ms
  5490 requests in 8.00s, 2.31MB read
Requests/sec:    686.11
Transfer/sec:    295.63KB
"""


def test_the_percentiles_come_from_their_own_lines():
    assert loadgen._milliseconds(loadgen._percentile(REPORT, 50)) == pytest.approx(22.8)
    assert loadgen._milliseconds(loadgen._percentile(REPORT, 99)) == pytest.approx(30.8)


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


def test_a_real_wrk_run_reads_as_numbers():
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (scripts/test installs it)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = loadgen.wrk(f"http://127.0.0.1:{server.server_address[1]}/", seconds=1,
                             connections=4)
    finally:
        server.shutdown()
        server.server_close()
    assert result.requests > 0 and result.non_2xx == 0
    assert math.isfinite(result.p50_ms) and math.isfinite(result.p99_ms)
    assert 0 < result.p50_ms <= result.p99_ms
