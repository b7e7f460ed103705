"""Helpers for the order-pipeline tests: worker processes, database locks, polling, reads."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from common import order_stream
from shop.catalog.models import Product
from shop.core.db import Database
from shop.fulfilment.models import CarrierDay
from shop.notifications.models import OutgoingMail
from shop.orders.models import Order, OutboxMessage

REPO_ROOT = Path(__file__).resolve().parents[2]
# Generous: these guard against hangs, they do not measure speed.
DEADLINE_S = 90.0


def wait_until(condition: Callable[[], object], what: str, deadline_s: float = DEADLINE_S,
               interval_s: float = 0.05):
    """Poll until `condition()` is truthy and return it; fail naming `what` after the deadline."""
    give_up = time.monotonic() + deadline_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up after {deadline_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def buy_many(api, shop, count: int, sku: str = "MUG") -> list[str]:
    """Check out `count` carts of one unit each through the API; the new orders' ids."""
    order_ids = []
    for _ in range(count):
        response = api.buy(shop, sku)
        assert response.status_code == 201, response.get_json()
        order_ids.append(response.get_json()["order_id"])
    return order_ids


@dataclass
class WorkerProcess:
    """A `python -m shop.orders.worker_command` subprocess with its log file."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, deadline_s: float = DEADLINE_S) -> int:
        return self.process.wait(timeout=deadline_s)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait()


def start_worker(env: dict[str, str], log_dir: Path, name: str, *args: str) -> WorkerProcess:
    log_path = log_dir / f"worker-{name}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "shop.orders.worker_command",
                                    "--name", name, *args], env=env, cwd=REPO_ROOT, stdout=log_file,
                                   stderr=subprocess.STDOUT)
    return WorkerProcess(name, process, log_path)


def subprocess_env(overrides: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PEAKSHOP_", "PROMETHEUS_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(overrides)
    return env


@contextlib.contextmanager
def database_write_lock(database_url: str) -> Iterator[None]:
    """Hold off every writer of orders (SQLite: the one write lock; PostgreSQL: a table lock),
    while readers go on. What is blocked resumes, unharmed, when the block ends."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        connection.execute("LOCK TABLE orders IN SHARE MODE")
        try:
            yield
        finally:
            connection.rollback()


def pending_of(client: redis.Redis, consumer: str) -> int:
    """Entries delivered to `consumer` and not acknowledged."""
    try:
        return len(client.xpending_range(order_stream.STREAM, order_stream.GROUP, min="-", max="+",
                                         count=1000, consumername=consumer))
    except redis.exceptions.ResponseError as problem:
        if "NOGROUP" not in str(problem):
            raise  # a cluster's redirection or another error must not read as "none pending"
        return 0  # no group yet


@dataclass
class ShopState:
    """The facts the pipeline's promises are about, read straight from the database."""

    database: Database

    def statuses(self) -> dict[str, int]:
        with self.database.reading() as session:
            return dict(session.execute(select(Order.status, func.count())
                                        .group_by(Order.status)).all())

    def count(self, status: str) -> int:
        return self.statuses().get(status, 0)

    def order_ids(self, status: str | None = None) -> set[str]:
        statement = select(Order.id)
        if status:
            statement = statement.where(Order.status == status)
        with self.database.reading() as session:
            return set(session.scalars(statement))

    def product(self, sku: str) -> tuple[int, int]:
        """(stock, reserved) of a product."""
        with self.database.reading() as session:
            row = session.execute(select(Product.stock, Product.reserved)
                                  .where(Product.sku == sku)).one()
            return row.stock, row.reserved

    def mails(self) -> list[OutgoingMail]:
        with self.database.reading() as session:
            return list(session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))

    def carrier_days(self) -> dict[tuple[int, str], int]:
        with self.database.reading() as session:
            return {(row.carrier_id, row.day.isoformat()): row.booked
                    for row in session.scalars(select(CarrierDay))}

    def orders(self) -> list[Order]:
        with self.database.reading() as session:
            return list(session.scalars(select(Order)))

    def unrelayed_outbox(self) -> int:
        with self.database.reading() as session:
            return session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.relayed_at.is_(None)))


def metric_values(text: str) -> dict[str, float]:
    """Sample name (with labels, Prometheus style) -> value, from an exposition."""
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values
