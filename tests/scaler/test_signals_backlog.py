"""Requests waiting for a free worker break the SLO however fast they are served once a worker
takes them: the scaler's judgement of latency counts them (Little's law)."""

from __future__ import annotations

import pytest

from scaler.signals.exposition import parse_exposition, traffic_between
from scaler.signals.readings import TrafficReading
from scaler.signals.source import latency_within_slo


@pytest.mark.parametrize("waiting, within", [
    (None, True),   # no backlog signal: the server's p95 decides alone
    (0, True),
    (4, True),      # 4 waiting at 20 req/s: about 0.2 s in the queue
    (20, False),    # 20 waiting at 20 req/s: about a second before a worker even starts
])
def test_a_queue_in_front_of_the_workers_breaks_the_slo_the_server_p95_cannot_see(waiting,
                                                                                 within):
    served_fast = TrafficReading(request_rate=20.0, latency_p95_s=0.02, window_s=30)
    assert latency_within_slo(served_fast, 0.5, waiting) is within


def test_a_backlog_with_nothing_served_is_over_the_slo():
    stuck = TrafficReading(request_rate=0.0, latency_p95_s=None, window_s=30)
    assert latency_within_slo(stuck, 0.5, waiting=5) is False
    assert latency_within_slo(stuck, 0.5, waiting=0) is True


EXPOSITION = """# TYPE peakshop_http_requests_total counter
peakshop_http_requests_total{method="GET",route="/",status="200"} %d
# TYPE peakshop_http_listen_backlog gauge
peakshop_http_listen_backlog %d
"""


def test_the_storefront_reports_what_waits_and_the_scaler_judges_it():
    before = parse_exposition(EXPOSITION % (1000, 0), at_s=0.0)
    after = parse_exposition(EXPOSITION % (1300, 450), at_s=30.0)
    reading = traffic_between(before, after)
    # 10 requests/s served while 450 wait: 45 s in the queue, whatever the server's p95 says.
    assert (reading.request_rate, reading.waiting) == (10.0, 450)
    assert latency_within_slo(reading, 0.5) is False
    calm = traffic_between(before, parse_exposition(EXPOSITION % (1300, 2), at_s=30.0))
    assert latency_within_slo(calm, 0.5) is True


def test_behind_the_edge_gate_what_waits_at_the_gate_counts_as_waiting():
    """The gate keeps gunicorn's accept queue short: the queue is its own (one sample per
    gate process, as its multiprocess gauge reports it)."""
    gated = EXPOSITION + ("# TYPE peakshop_gate_requests_waiting gauge\n"
                          'peakshop_gate_requests_waiting{pid="101"} %d\n'
                          'peakshop_gate_requests_waiting{pid="102"} %d\n')
    before = parse_exposition(gated % (1000, 0, 0, 0), at_s=0.0)
    after = parse_exposition(gated % (1300, 1, 300, 149), at_s=30.0)
    reading = traffic_between(before, after)
    assert reading.waiting == 450
    assert latency_within_slo(reading, 0.5) is False
    without_backlog = parse_exposition(
        "# TYPE peakshop_http_requests_total counter\n"
        'peakshop_http_requests_total{method="GET",route="/",status="200"} 1300\n'
        "# TYPE peakshop_gate_requests_waiting gauge\npeakshop_gate_requests_waiting 7\n",
        at_s=30.0)
    assert traffic_between(before, without_backlog).waiting == 7
