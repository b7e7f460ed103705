"""gunicorn's master forks workers while its metrics port scrapes: no worker may be born with
a lock that a scrape held.

The hang this guards against: the master's first scrape took SQLAlchemy's mapper-configuration
lock at the moment it forked a worker; the worker's copy of the lock stayed held for good, and
its first `/metrics` (the same ORM query) waited on it until gunicorn killed it after 30 s.
Here the master is this process: the real metrics port (`serve_metrics_port`, real HTTP, the
app's real scrape-time collectors on the test's database and Redis) and a real `os.fork`,
with one more scrape-time collector that holds a lock of its own across the fork, standing
for any library lock a scrape takes.
"""

from __future__ import annotations

import os
import threading

import requests

from shop.core import metrics
from shop.core.metrics import SampleFilesCollector, serve_metrics_port
from tests.support.servers import free_port

# Set by every fork of this process once the test arms it: at-fork hooks cannot be removed,
# so the hook stays registered and idle outside the test.
_fork_began = threading.Event()
_armed = threading.Event()
# Hooks registered later run first: this one runs before the fork guard's.
os.register_at_fork(before=lambda: _armed.is_set() and _fork_began.set())


class HoldsALockUntilReleased:
    """A scrape-time collector that keeps `held` while it waits for `release`."""

    def __init__(self, held: threading.Lock, inside: threading.Event,
                 release: threading.Event) -> None:
        self.held, self.inside, self.release = held, inside, release

    def collect(self):
        with self.held:
            self.inside.set()
            self.release.wait(30)
        return []


def test_a_fork_never_copies_a_lock_that_a_scrape_holds(make_app):
    """The fork waits for the scrape: the child's copy of the scrape's lock is free.

    Without the guard the fork copies the lock held and the child reports it. That failure
    shows as long as the fork completes within the second the scrape keeps its lock after the
    fork began (the release below); the pass needs no timing at all.
    """
    port = free_port()
    app = make_app(metrics_bind=f"127.0.0.1:{port}")
    held, inside, release = threading.Lock(), threading.Event(), threading.Event()

    def make_holder(_app):
        return HoldsALockUntilReleased(held, inside, release)

    metrics.scrape_time_collectors.append(make_holder)
    try:
        server, _thread = serve_metrics_port(app)
    finally:
        metrics.scrape_time_collectors.remove(make_holder)
    answers: list = []
    scrape = threading.Thread(target=lambda: answers.append(
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=60)))

    def end_the_scrape_a_second_after_the_fork_began() -> None:
        if _fork_began.wait(60):
            release.wait(1.0)
        release.set()

    releaser = threading.Thread(target=end_the_scrape_a_second_after_the_fork_began)
    try:
        scrape.start()
        assert inside.wait(30), "the scrape never reached the collector"
        releaser.start()
        _armed.set()
        child = os.fork()
        if child == 0:  # the new worker: is the lock it was born with free?
            os._exit(3 if held.locked() else 0)
        _armed.clear()
        _, status = os.waitpid(child, 0)
    finally:
        _armed.clear()
        release.set()
        scrape.join(60)
        releaser.join(60)
        server.shutdown()
        server.server_close()
    assert os.waitstatus_to_exitcode(status) == 0, (
        "the child was forked while the scrape held its lock: it would wait on it for ever")
    assert answers and answers[0].status_code == 200
    assert "peakshop_queue_up" in answers[0].text  # the app's own collectors ran too


def test_an_empty_sample_file_leaves_the_others_readable(tmp_path):
    """A process's sample file caught between its creation and its sizing (0 bytes), or left
    so by a process killed in that instant, is skipped: the other processes' samples are
    merged as ever (prometheus_client alone fails the whole merge on it, struct.error)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    written = MmapedDict(str(tmp_path / "counter_4242.db"))  # as a worker writes its samples
    written.write_value(mmap_key("peakshop_test_answers", "peakshop_test_answers_total", [], [],
                                 "Answers"), 3.0, 0.0)
    written.close()
    (tmp_path / "counter_4243.db").write_bytes(b"")  # another worker's, not yet sized
    registry = CollectorRegistry()
    SampleFilesCollector(registry, str(tmp_path))
    assert b"peakshop_test_answers_total 3.0" in generate_latest(registry)
