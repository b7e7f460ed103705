"""The local actuator against a real gunicorn master and real worker processes."""

from __future__ import annotations

from scaler.actuators.local import GunicornWorkers, LocalActuator, WorkerPool
from scaler.model import Decision, Reason
from scaler.signals import procfs
from tests.scaler import live_fixtures
from tests.scaler.live_fixtures import order_worker_command, order_worker_ready, wait_until

# The real servers these tests run against, as this module's fixtures.
gunicorn_server = live_fixtures.gunicorn_server


def test_gunicorn_workers_follow_ttin_and_ttou(gunicorn_server):
    workers = GunicornWorkers(gunicorn_server.pidfile)
    assert workers.master_pid() == gunicorn_server.process.pid
    assert workers.ready() == 1
    assert workers.requested() == 1

    workers.scale_to(4)
    assert workers.requested() == 4
    wait_until(lambda: workers.ready() == 4, what="gunicorn growing to 4 workers")

    workers.scale_to(2)
    wait_until(lambda: workers.ready() == 2, what="gunicorn shrinking to 2 workers")
    assert workers.requested() == 2


def test_gunicorn_never_goes_below_one_worker(gunicorn_server):
    workers = GunicornWorkers(gunicorn_server.pidfile)
    workers.scale_to(0)
    assert workers.requested() == 1
    assert workers.ready() == 1


def test_missing_master_is_reported_with_the_fix(tmp_path):
    import pytest

    from scaler.actuators import ActuatorError

    workers = GunicornWorkers(tmp_path / "absent.pid")
    with pytest.raises(ActuatorError, match="--gunicorn-pidfile"):
        workers.ready()


def test_worker_pool_starts_and_stops_cleanly_with_sigterm(tmp_path):
    pool = WorkerPool(order_worker_command(tmp_path), stop_timeout_s=30)
    try:
        pool.scale_to(3)
        assert pool.ready() == 3
        pids = pool.pids
        assert all(procfs.is_alive(pid) for pid in pids)
        wait_until(lambda: all(order_worker_ready(tmp_path, pid) for pid in pids),
                   what="order workers starting")

        stopped = list(pool._running[1:])
        pool.scale_to(1)
        assert pool.pids == pids[:1]  # the newest go first
        for process in stopped:
            assert process.wait(timeout=30) == 0  # exited by itself on SIGTERM
    finally:
        pool.close()
    assert pool.ready() == 0


def test_worker_pool_replaces_a_worker_that_died(tmp_path):
    pool = WorkerPool(order_worker_command(tmp_path))
    try:
        pool.scale_to(2)
        victim = pool._running[0]
        victim.kill()
        victim.wait(timeout=30)
        assert pool.ready() == 2
        assert victim.pid not in pool.pids
    finally:
        pool.close()


def test_local_actuator_reports_and_scales_both_sides(gunicorn_server, tmp_path):
    actuator = LocalActuator(GunicornWorkers(gunicorn_server.pidfile),
                             WorkerPool(order_worker_command(tmp_path)))
    try:
        counts = actuator.replicas()
        assert (counts.web_ready, counts.web_requested) == (1, 1)
        assert (counts.workers_ready, counts.workers_requested) == (0, 0)

        actuator.scale("web", 3, Decision(3, Reason.REQUEST_RATE), current=1)
        actuator.scale("workers", 2, Decision(2, Reason.QUEUE_BACKLOG), current=0)
        wait_until(lambda: actuator.replicas().web_ready == 3, what="3 gunicorn workers")
        counts = actuator.replicas()
        assert (counts.web_requested, counts.workers_ready, counts.workers_requested) == (3, 2, 2)
    finally:
        actuator.close()
    assert actuator.workers.ready() == 0
