"""One order-worker process, as `peakshop worker` runs it (the command is `worker_command`).

It confirms paid orders from the queue, and on a second thread relays the outbox, sends due
mail, expires unpaid reservations and re-queues lost orders. SIGTERM (or Ctrl-C) lets the
current batch finish; a batch still running after the grace period is abandoned — the
process exits with EXIT_GRACE_EXPIRED and its entries stay pending for another worker.
"""

from __future__ import annotations

import logging
import os
import threading

import shop.models  # noqa: F401  (every table, for the foreign keys the worker follows)
from common.stop_signals import stop_signals
from shop.core import redis as shop_redis
from shop.core.db import Database
from shop.core.settings import Settings
from shop.images import sweep as image_sweep
from shop.notifications.mailer import mailer_for
from shop.notifications.service import RetryPolicy, deliver_due
from shop.orders import housekeeping
from shop.orders.consumer import Consumer
from shop.orders.heartbeat import Heartbeat
from shop.orders.links import OrderLinks
from shop.orders.metrics import WorkerCollector, WorkerStats
from shop.orders.worker_settings import WorkerSettings
from shop.privacy.service import anonymise_expired
from shop.status.chores import count_mail_outcomes, status_chores

log = logging.getLogger("shop.orders.worker")

EXIT_GRACE_EXPIRED = 75  # EX_TEMPFAIL: the batch in hand is left for another worker
EXIT_UNHEALTHY = 1


class Shutdown:
    """Forces the exit once the grace after SIGTERM/SIGINT is over.

    Run from the stop-signal watcher thread, so the grace period is enforced even while the
    main thread waits inside a database driver.
    """

    def __init__(self, grace_s: float):
        self.grace_s = grace_s
        self.finished = threading.Event()

    def enforce_grace(self, _signum: int) -> None:
        log.info("stop requested: finishing the current batch within %.0f s", self.grace_s)
        if not self.finished.wait(self.grace_s):
            log.error("grace period of %.0f s over: exiting, the batch in hand stays "
                      "pending for another worker", self.grace_s)
            logging.shutdown()
            os._exit(EXIT_GRACE_EXPIRED)


def chores(settings: Settings, worker: WorkerSettings, database: Database, client,
           stats: WorkerStats) -> list[housekeeping.Chore]:
    mailer = mailer_for(settings)
    policy = RetryPolicy(base_s=worker.mail_retry_base_s, max_s=worker.mail_retry_max_s,
                         lease_s=worker.mail_lease_s)

    def send_mail() -> None:
        while True:
            report = deliver_due(database, mailer, policy)
            stats.add(mails_sent=report.sent, mails_failed=report.failed)
            count_mail_outcomes(client, report.sent, report.failed)
            if report.failed or report.sent + report.failed == 0:
                return

    return [
        housekeeping.Chore("outbox relay", worker.relay_interval_s,
                           lambda: housekeeping.relay_all(database, client)),
        housekeeping.Chore("mail delivery", worker.mail_interval_s, send_mail),
        housekeeping.Chore("reservation expiry", worker.expire_interval_s,
                           lambda: housekeeping.expire_all(database)),
        housekeeping.Chore("lost-order sweep", worker.orphan_interval_s,
                           lambda: housekeeping.requeue_orphans(database, client,
                                                                worker.orphan_after_s)),
        *status_chores(settings, worker, database, client),
        housekeeping.Chore("personal data retention", worker.privacy_interval_s,
                           lambda: anonymise_expired(database,
                                                     worker.personal_data_retention_days)),
        housekeeping.Chore("image file sweep", image_sweep.CHORE_INTERVAL_S,
                           image_sweep.sweep_chore(settings, database)),
    ]


def run_worker(settings: Settings, worker: WorkerSettings) -> int:
    """Run one worker until SIGTERM/SIGINT; returns the process exit status."""
    shutdown = Shutdown(worker.grace_s)
    with stop_signals(on_stop=shutdown.enforce_grace) as requested:
        try:
            return _serve(settings, worker, requested)
        finally:
            shutdown.finished.set()


def _serve(settings: Settings, worker: WorkerSettings, requested: threading.Event) -> int:
    database = Database(settings.database_url)
    client = shop_redis.connect(settings.redis_url, settings.instance_path)
    stats = WorkerStats()
    if worker.metrics_port:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry()
        registry.register(WorkerCollector(stats))
        start_http_server(worker.metrics_port, registry=registry)
    heartbeat = Heartbeat(worker.heartbeat_file, worker.consumer)
    heartbeat.beat(force=True)
    chores_thread = housekeeping.Housekeeping(
        chores(settings, worker, database, client, stats), requested)
    chores_thread.start()
    log.info("order worker %s started", worker.consumer)
    try:
        Consumer(database, client, worker, requested, heartbeat, stats,
                 OrderLinks.from_settings(settings)).run()
        chores_thread.join()
    finally:
        heartbeat.clear()
        database.dispose()
    log.info("order worker %s stopped: %s", worker.consumer, stats.snapshot())
    return 0
