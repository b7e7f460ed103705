"""What a load test did, second by second: arrivals offered, started and dropped, visits,
requests, latency and orders, written as JSON lines for the rehearsal and for people.

Each Locust process tallies its own users; workers ship their tallies with Locust's regular
report to the master, which merges them, so the timeline covers the whole swarm.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import IO

import gevent
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from loadtests.arrivals import SecondBook, Tally, is_waiting_answer, percentile_s, rounded_ms

log = logging.getLogger("peakshop.loadtests")

REPORT_KEY = "peakshop_tallies"
# A second is written once no more data can arrive for it: at once on a single process, after
# a couple of worker reports (every 3 s) on a master.
LOCAL_LAG_S = 1.5
MASTER_LAG_S = 7.0
LOOP_PROBE_S = 0.1  # how often the event loop's lag is measured


def timeline_row(epoch_s: int, tally: Tally, users: int, target_rps: float | None) -> dict:
    """One line of the timeline file."""
    return {"epoch": epoch_s, "users": users, "target_rps": target_rps,
            "offered": tally.offered, "started": tally.started, "late": tally.late,
            "dropped": tally.dropped,
            "visits_ok": tally.visits_ok, "visits_failed": tally.visits_failed,
            "requests": tally.requests, "failures": tally.failures,
            "orders_paid": tally.orders_paid, "payments_declined": tally.payments_declined,
            "sold_out": tally.sold_out, "loop_lag_ms": tally.loop_lag_ms,
            "in_line": tally.in_line, "waiting_answers": tally.waiting_answers,
            "waiting_answers_without_eta": tally.waiting_answers_without_eta,
            "admitted_from_line": tally.admitted_from_line,
            "predicted_wait_ms": tally.predicted_wait_ms, "actual_wait_ms": tally.actual_wait_ms,
            "eta_pairs": dict(tally.eta_pairs),
            "p50_s": percentile_s(tally.latencies_ms, 0.5),
            "p95_s": percentile_s(tally.latencies_ms, 0.95)}


def summary_line(totals: Tally) -> str:
    """The end-of-test line Locust prints: offered vs started, dropped, outcomes."""
    p95 = percentile_s(totals.latencies_ms, 0.95)
    return (f"arrivals offered {totals.offered}, started {totals.started} (late "
            f"{totals.late}), dropped {totals.dropped}; visits ok {totals.visits_ok}, "
            f"failed {totals.visits_failed}; "
            f"orders paid {totals.orders_paid}, declined {totals.payments_declined}, sold out "
            f"{totals.sold_out}; p95 {'-' if p95 is None else f'{p95:.3f} s'}"
            + (f"; waited in line {totals.in_line}, let in {totals.admitted_from_line}"
               if totals.in_line else ""))


class Recorder:
    """Tallies of one Locust process, and on the master/local process the timeline writer."""

    def __init__(self, environment, timeline_path: str | None = None,
                 orders_path: str | None = None) -> None:
        self.environment = environment
        self.timeline_path = timeline_path
        self.orders_path = orders_path
        self.book = SecondBook()
        self.totals = Tally()
        self.gauges: dict[int, tuple[int, float | None]] = {}
        self._last_gauges: tuple[int, float | None] = (0, None)
        self._timeline: IO[str] | None = None
        self._orders: IO[str] | None = None
        self._writer: gevent.Greenlet | None = None
        events = environment.events
        events.request.add_listener(self.on_request)
        events.test_start.add_listener(self.on_test_start)
        events.test_stop.add_listener(self.on_test_stop)
        events.quit.add_listener(self.on_quit)
        if isinstance(environment.runner, WorkerRunner):
            events.report_to_master.add_listener(self.on_report_to_master)
        if isinstance(environment.runner, MasterRunner):
            events.worker_report.add_listener(self.on_worker_report)
        gevent.spawn(self._watch_loop_lag)

    # --- what the personas report -----------------------------------------------------------
    def now(self) -> Tally:
        return self.book.at(time.time())

    def visit_started(self, late: bool = False) -> None:
        tally = self.now()
        tally.started += 1
        tally.late += late

    def arrivals_dropped(self, count: int) -> None:
        self.now().dropped += count

    def visit_finished(self, ok: bool) -> None:
        tally = self.now()
        if ok:
            tally.visits_ok += 1
        else:
            tally.visits_failed += 1

    def order_paid(self, order_id: str, access_token: str) -> None:
        self.now().orders_paid += 1
        if self.orders_path:
            if self._orders is None:
                self._orders = open(self.orders_path, "a", encoding="utf-8")
            self._orders.write(json.dumps({"order_id": order_id,
                                           "access_token": access_token}) + "\n")
            self._orders.flush()

    def payment_declined(self) -> None:
        self.now().payments_declined += 1

    def sold_out(self) -> None:
        self.now().sold_out += 1

    def joined_line(self) -> None:
        self.now().in_line += 1

    def waiting_answer(self, complete: bool) -> None:
        """A 503 waiting_room; `complete` when it showed a position and an ETA."""
        tally = self.now()
        tally.waiting_answers += 1
        tally.waiting_answers_without_eta += not complete

    def left_line(self, predicted_s: float, actual_s: float) -> None:
        """A visitor let in after waiting `actual_s`, first told `predicted_s`."""
        tally = self.now()
        tally.admitted_from_line += 1
        tally.predicted_wait_ms += round(predicted_s * 1000)
        tally.actual_wait_ms += round(actual_s * 1000)
        tally.eta_pairs[f"{round(predicted_s)}:{round(actual_s)}"] += 1

    # --- Locust events ----------------------------------------------------------------------
    def on_request(self, response_time, exception=None, response=None, **_kwargs) -> None:
        if is_waiting_answer(response):
            return  # a visitor still in line: not a request the shop served (see waiting_answer)
        tally = self.now()
        tally.requests += 1
        if exception is not None:
            tally.failures += 1
        tally.latencies_ms[rounded_ms((response_time or 0) / 1000.0)] += 1

    def on_report_to_master(self, client_id, data) -> None:
        data[REPORT_KEY] = {str(second): tally.to_json()
                            for second, tally in self.book.take_all().items()}

    def on_worker_report(self, client_id, data) -> None:
        tallies = data.get(REPORT_KEY) or {}
        self.book.merge({int(second): Tally.from_json(body) for second, body in tallies.items()})

    def on_test_start(self, environment, **_kwargs) -> None:
        if isinstance(environment.runner, WorkerRunner):
            return
        self.book, self.totals, self.gauges = SecondBook(), Tally(), {}
        # Rows start with the test, not with the first visit.
        self.book.closed_before = int(time.time())
        if self.timeline_path:
            Path(self.timeline_path).parent.mkdir(parents=True, exist_ok=True)
            self._timeline = open(self.timeline_path, "a", encoding="utf-8")
        lag = LOCAL_LAG_S if isinstance(environment.runner, LocalRunner) else MASTER_LAG_S
        self._writer = gevent.spawn(self._write_every_second, lag)

    def on_test_stop(self, environment, **_kwargs) -> None:
        if isinstance(environment.runner, WorkerRunner):
            return
        if isinstance(environment.runner, MasterRunner):
            # The workers' last reports arrive after this: finish once they had time to,
            # or when Locust quits, whichever comes first.
            gevent.spawn_later(MASTER_LAG_S, self.finish)
        else:
            self.finish()

    def on_quit(self, **_kwargs) -> None:
        self.finish()

    def finish(self) -> None:
        """Write the remaining seconds and the totals line, once per test."""
        if self._writer is None:
            return
        self._writer.kill(block=True)
        self._writer = None
        self.flush(float("inf"))
        log.info("peakshop: %s", summary_line(self.totals))
        if self._timeline is not None:
            self._write({"totals": self.totals.to_json() | {
                "offered": self.totals.offered,
                "p50_s": percentile_s(self.totals.latencies_ms, 0.5),
                "p95_s": percentile_s(self.totals.latencies_ms, 0.95)}})
            self._timeline.close()
            self._timeline = None
        if self._orders is not None:
            self._orders.close()
            self._orders = None

    def _watch_loop_lag(self) -> None:
        # A starved or overloaded Locust wakes up late: every response it times then looks
        # slower than the server made it. The worst lag per second says how much.
        while True:
            started = time.perf_counter()
            gevent.sleep(LOOP_PROBE_S)
            lag_ms = int((time.perf_counter() - started - LOOP_PROBE_S) * 1000)
            tally = self.now()
            tally.loop_lag_ms = max(tally.loop_lag_ms, lag_ms)

    # --- the timeline -----------------------------------------------------------------------
    def _write_every_second(self, lag_s: float) -> None:
        while True:
            self._note_gauges()
            gevent.sleep(1.0 - time.time() % 1.0)
            self.flush(time.time() - lag_s)

    def _note_gauges(self) -> None:
        # Users and the asked-for rate as they are now, for the row written a bit later.
        runner, shape = self.environment.runner, self.environment.shape_class
        self.gauges[int(time.time())] = (runner.user_count if runner else 0,
                                         getattr(shape, "current_rate", None))

    def flush(self, before_epoch_s: float) -> None:
        """Write (and add to the totals) every second that ended before `before_epoch_s`."""
        if before_epoch_s == float("inf"):
            taken = self.book.take_before(max(self.book.seconds, default=0) + 1)
        else:
            taken = self.book.take_before(before_epoch_s)
        self._note_gauges()
        for second, tally in taken:
            self.totals.add(tally)
            self._last_gauges = self.gauges.pop(second, self._last_gauges)
            if self._timeline is not None:
                self._write(timeline_row(second, tally, *self._last_gauges))

    def _write(self, row: dict) -> None:
        self._timeline.write(json.dumps(row) + "\n")
        self._timeline.flush()
