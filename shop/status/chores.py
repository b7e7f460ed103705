"""What the order worker does for the status page: check burn rates, send outage webhooks."""

from __future__ import annotations

import redis

from shop.core.db import Database
from shop.core.settings import Settings
from shop.orders.housekeeping import Chore
from shop.orders.worker_settings import WorkerSettings
from shop.status import slo_counter
from shop.status.components import Component
from shop.status.monitor import check_burn_rates
from shop.webhooks import outbox


def count_mail_outcomes(client: redis.Redis, sent: int, failed: int) -> None:
    """E-mail has no request to count: its SLO events are the worker's send attempts."""
    slo_counter.record(client, Component.EMAIL.value, good=sent, bad=failed)


def status_chores(settings: Settings, worker: WorkerSettings, database: Database,
                  client: redis.Redis) -> list[Chore]:
    policy = outbox.RetryPolicy()
    send = outbox.http_sender(allow_private=settings.webhook_allow_private, policy=policy)

    def deliver_webhooks() -> None:
        while True:
            report = outbox.deliver_due(database, send, policy)
            if report.failed or report.delivered == 0:
                return

    return [Chore("burn-rate check", worker.burn_rate_interval_s,
                  lambda: check_burn_rates(database, client)),
            Chore("webhook delivery", worker.webhook_interval_s, deliver_webhooks)]
