"""Prometheus gauges for what ops must not miss: open incidents, webhooks that cannot be
delivered, and breaches past their 72 hours. Read from the database when scraped."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import sqlalchemy.exc
from flask import Flask
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from shop.breaches.models import Breach
from shop.breaches.service import NOTIFICATION_WINDOW, BreachDecision
from shop.core.db import Database
from shop.core.metrics import scrape_time_collectors
from shop.core.timeutil import utcnow
from shop.status.models import Incident
from shop.webhooks.models import WebhookDelivery

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    if status_collector not in scrape_time_collectors:
        scrape_time_collectors.append(status_collector)


def status_collector(app: Flask) -> StatusCollector:
    return StatusCollector(app.extensions["peakshop"].database)


class StatusCollector:
    def __init__(self, database: Database):
        self.database = database

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        try:
            with self.database.reading() as session:
                incidents = dict(session.execute(
                    select(Incident.merchant_id.is_(None), func.count())
                    .where(Incident.resolved_at.is_(None))
                    .group_by(Incident.merchant_id.is_(None))).all())
                deliveries = dict(session.execute(
                    select(WebhookDelivery.status, func.count())
                    .where(WebhookDelivery.status != "delivered")
                    .group_by(WebhookDelivery.status)).all())
                overdue = session.scalar(select(func.count()).select_from(Breach).where(
                    Breach.notified_at.is_(None),
                    Breach.decision != BreachDecision.NOT_REQUIRED,
                    Breach.detected_at < now - NOTIFICATION_WINDOW))
        except sqlalchemy.exc.SQLAlchemyError as problem:  # /metrics must answer regardless
            log.warning("status gauges unreadable for /metrics: %s", problem)
            return
        gauge = GaugeMetricFamily("peakshop_incidents_open", "Open incidents",
                                  labels=["scope"])
        gauge.add_metric(["platform"], incidents.get(True, 0))
        gauge.add_metric(["shop"], incidents.get(False, 0))
        yield gauge
        gauge = GaugeMetricFamily("peakshop_webhook_deliveries",
                                  "Webhook deliveries not (yet) delivered", labels=["status"])
        for status in ("pending", "failed"):
            gauge.add_metric([status], deliveries.get(status, 0))
        yield gauge
        yield GaugeMetricFamily("peakshop_breaches_overdue",
                                "Breaches past the 72 hours without notification",
                                value=overdue or 0)


