"""The rehearsal report: joining the timeline, judging seconds against the SLO, the summary,
and the files (CSV, PNG, JSON) it writes."""

from __future__ import annotations

import csv
import json

import pytest

from loadtests.orders_check import OrdersCheck, read_placed
from loadtests.report import (
    SloSettings,
    TimelineRow,
    build_timeline,
    read_csv,
    summarize,
    violated,
    write_csv,
    write_plot,
    write_summary,
)
from loadtests.sampler import StackSample, TimelineReader, latency_buckets, p95_between

SLO = SloSettings(latency_p95_s=0.5, queue_age_s=60)


def row(**changes) -> TimelineRow:
    values = dict(t_s=0, target_rps=10.0, offered_rps=10, achieved_rps=10, dropped=0, late=0,
                  failed_visits=0, requests=12, errors=0, p50_s=0.02, p95_s=0.1,
                  server_p95_s=0.05, loop_lag_ms=3, users=100,
                  web_workers=1, order_workers=1, queue_depth=0, queue_age_s=0.0,
                  orders_paid=0, server_cpu_pct=30.0, locust_cpu_pct=5.0, machine_cpu_pct=60.0)
    return TimelineRow(**{**values, **changes})


@pytest.mark.parametrize(("changes", "broken"), [
    ({}, False),
    ({"p95_s": 0.5}, False),                        # at the SLO is within it
    ({"p95_s": 0.51}, True),
    ({"p95_s": None, "offered_rps": 0}, False),     # nothing due, nothing back: quiet
    ({"p95_s": None, "offered_rps": 40}, True),     # visits due and nothing came back
    ({"queue_age_s": 60.0}, False),
    ({"queue_age_s": 61.0}, True),
    ({"queue_age_s": None}, False),                 # the queue could not be read
])
def test_seconds_are_judged_by_latency_and_queue_age(changes, broken):
    assert violated(row(**changes), SLO) is broken


def sample(epoch, web=1, workers=1, depth=0, age=0.0, server=0.0, locust=0.0, machine=0.0):
    return StackSample(epoch, web, workers, depth, age, server, locust, machine)


def test_timeline_joins_locust_seconds_and_stack_samples():
    locust_rows = [{"epoch": 1000, "offered": 10, "visits_ok": 9, "requests": 11,
                    "p50_s": 0.01, "p95_s": 0.2, "users": 100, "target_rps": 10.0},
                   {"epoch": 1002, "offered": 30, "visits_ok": 25, "dropped": 2,
                    "requests": 31, "p95_s": 0.9, "users": 300, "orders_paid": 1}]
    samples = [sample(1000.2, server=10.0, machine=50.0),
               sample(1001.2, web=2, server=10.5, locust=0.1, machine=51.5),
               sample(1003.2, web=3, depth=4, age=2.5, server=11.5, machine=53.5)]
    rows = build_timeline(locust_rows, samples)
    assert [r.t_s for r in rows] == [0, 1, 2, 3]
    assert [r.offered_rps for r in rows] == [10, 0, 30, 0]     # a silent second is zero
    assert [r.web_workers for r in rows] == [1, 2, 2, 3]       # a missing sample repeats
    assert rows[1].server_cpu_pct == pytest.approx(50.0)
    assert rows[1].locust_cpu_pct == pytest.approx(10.0)
    assert rows[3].server_cpu_pct == pytest.approx(50.0)       # 1 s of CPU over 2 s
    assert rows[1].machine_cpu_pct == pytest.approx(150.0)     # two cores, 1.5 busy
    assert (rows[3].queue_depth, rows[3].queue_age_s) == (4, 2.5)
    assert build_timeline([], samples) == []


def test_summary_counts_violations_and_capacity():
    rows = [row(t_s=0), row(t_s=1, p95_s=0.8, web_workers=2),
            row(t_s=2, queue_age_s=90, web_workers=3, order_workers=2, queue_depth=40),
            row(t_s=3, web_workers=2)]
    check = OrdersCheck(placed={"a": "x", "b": "y"}, statuses={"a": "confirmed", "b": "paid"},
                        left_in_shop={"paid": 1, "pending_payment": 0})
    totals = {"offered": 100, "started": 95, "dropped": 5, "visits_ok": 94, "failures": 2,
              "p95_s": 0.4}
    summary = summarize(rows, totals, SLO, orders=check.to_summary(), run={"scaler": True})
    assert summary["slo_violation_seconds"] == 2
    assert (summary["latency_violation_seconds"], summary["queue_violation_seconds"]) == (1, 1)
    assert summary["peak_p95_s"] == 0.8
    assert (summary["offered_total"], summary["achieved_total"],
            summary["dropped_arrivals"], summary["errors"]) == (100, 94, 5, 2)
    assert (summary["orders_placed"], summary["orders_confirmed"],
            summary["orders_not_confirmed"]) == (2, 1, 1)
    assert summary["unconfirmed_orders"] == [{"order_id": "b", "status": "paid"}]
    assert summary["web_workers"] == {"min": 1, "max": 3, "worker_seconds": 8}
    assert summary["max_queue_depth"] == 40
    assert summary["slo"]["latency_p95_s"] == 0.5 and "rule" in summary["slo"]
    assert summary["scaler"] is True


def test_report_files(tmp_path):
    rows = [row(t_s=t, p95_s=round(0.05 + t / 50, 4), web_workers=1 + t // 20,
                queue_depth=t % 7, queue_age_s=float(t % 70)) for t in range(90)]
    write_csv(rows, tmp_path / "timeline.csv")
    write_plot(rows, SLO, tmp_path / "timeline.png", "test run")
    write_summary({"slo_violation_seconds": 3}, tmp_path / "summary.json")
    with (tmp_path / "timeline.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 90 and table[30]["web_workers"] == "2"
    assert read_csv(tmp_path / "timeline.csv") == rows
    assert (tmp_path / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "summary.json").read_text()) == {"slo_violation_seconds": 3}


def test_timeline_reader_follows_a_growing_file(tmp_path):
    path = tmp_path / "timeline.jsonl"
    reader = TimelineReader(path)
    assert reader.read_new() == []                  # not there yet
    path.write_text('{"epoch": 1}\n{"epo')
    assert reader.read_new() == [{"epoch": 1}]      # the half line waits
    with path.open("a") as handle:
        handle.write('ch": 2}\n{"totals": {"offered": 5}}\n')
    assert reader.read_new() == [{"epoch": 2}]
    assert reader.totals == {"offered": 5}
    assert reader.rows == [{"epoch": 1}, {"epoch": 2}]


def test_placed_orders_are_read_back(tmp_path):
    assert read_placed(tmp_path / "none.jsonl") == {}
    path = tmp_path / "orders.jsonl"
    path.write_text('{"order_id": "o1", "access_token": "t1"}\n\n'
                    '{"order_id": "o2", "access_token": "t2"}\n')
    assert read_placed(path) == {"o1": "t1", "o2": "t2"}


EXPOSITION = """# HELP peakshop_http_request_duration_seconds HTTP request latency
# TYPE peakshop_http_request_duration_seconds histogram
peakshop_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/a"} {a1}
peakshop_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/a"} {a5}
peakshop_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/a"} {ainf}
peakshop_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/metrics"} 500.0
peakshop_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/metrics"} 500.0
peakshop_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/metrics"} 500.0
peakshop_http_request_duration_seconds_count{method="GET",route="/a"} {ainf}
"""


def exposition(fast: int, medium: int, slow: int) -> str:
    return (EXPOSITION.replace("{a1}", str(fast)).replace("{a5}", str(fast + medium))
            .replace("{ainf}", str(fast + medium + slow)))


def test_server_side_p95_between_two_scrapes():
    before = latency_buckets(exposition(100, 0, 0))
    assert before == {0.1: 100.0, 0.5: 100.0, float("inf"): 100.0}   # /metrics left out
    assert p95_between(before, latency_buckets(exposition(196, 2, 2))) == 0.1
    assert p95_between(before, latency_buckets(exposition(150, 45, 5))) == 0.5
    assert p95_between(before, latency_buckets(exposition(150, 0, 50))) == float("inf")
    assert p95_between(before, before) is None                        # nothing served
