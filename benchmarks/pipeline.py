"""Order-pipeline throughput: orders confirmed per second by 1, 2 and 4 worker processes,
beside the raw Redis Streams round trip (XADD, XREADGROUP, XACK) measured in the same run.

    python -m benchmarks.pipeline [--database postgresql|sqlite] [--orders 5000]
                                  [--workers 1,2,4] [--batch-size 200] [--repeat 2]
                                  [--profile DIR]

Redis and PostgreSQL are real servers started for the run (SQLite is a file). Every run
starts from the same seeded database: N paid orders of one merchant (one line each, spread
over 50 products, two carriers). Workers are started and idle first; then the N messages
are added to the stream and the clock runs until the workers' confirmation counter says N.
A confirmation is the whole transaction (status, stock, carrier slot, mail row); sending the
mail is a separate chore and is switched off here, as are the other chores.

The raw round trip is one Python process adding entries (pipelined, like the relay) and
reading them back as a consumer group in batches of the same size, acknowledging each batch.

Machines are noisy: each figure is the best of `--repeat` runs (raw: of 3 x 20,000 entries).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psutil
import redis
from sqlalchemy import insert, update

import shop.models  # noqa: F401  (every table)
from benchmarks.storefront import postgres_pid
from common import order_stream
from shop.catalog.models import Product
from shop.core.db import Database
from shop.core.migrate import upgrade
from shop.core.timeutil import utcnow
from shop.fulfilment.models import Carrier
from shop.merchants.models import Merchant
from shop.orders import queue
from shop.orders.heartbeat import heartbeat_age_s
from shop.orders.models import Order, OrderLine, OutboxMessage
from shop.orders.service import ORDER_PAID_TOPIC
from tests.support.servers import PostgresServer, RedisServer

PRODUCTS = 50
CHORES_FIRST_ROUND_S = 3.0
REPO_ROOT = Path(__file__).resolve().parents[1]


def seed(database_url: str, orders: int) -> list[str]:
    """A merchant with products, two carriers and `orders` paid orders (outbox relayed)."""
    upgrade(database_url)
    database = Database(database_url)
    now = utcnow()
    rng = random.Random(7)
    order_ids = [uuid.uuid4().hex for _ in range(orders)]
    with database.transaction() as session:
        merchant = Merchant(slug="bench", name="Bench")
        session.add(merchant)
        session.flush()
        products = [Product(merchant_id=merchant.id, sku=f"SKU-{n}", name=f"Product {n}",
                            description="", price_amount=1999, currency="EUR",
                            stock=1_000_000, reserved=0) for n in range(PRODUCTS)]
        session.add_all(products)
        session.add_all([Carrier(merchant_id=merchant.id, name="Express", priority=0,
                                 daily_capacity=orders // 3, transit_days=1, is_down=False),
                         Carrier(merchant_id=merchant.id, name="Standard", priority=1,
                                 daily_capacity=orders, transit_days=3, is_down=False)])
        session.flush()
        chosen = [rng.choice(products) for _ in order_ids]
        session.execute(insert(Order), [
            {"id": order_id, "merchant_id": merchant.id, "email": "bench@example.com",
             "shipping_address": {"name": "Ada", "line1": "1 Frost Lane", "city": "Rovaniemi",
                                  "postal_code": "96930", "country": "FI"},
             "status": "paid", "total_amount": 1999, "currency": "EUR",
             "payment_gateway": "dummy", "reservation_expires_at": now + timedelta(hours=1),
             "created_at": now, "updated_at": now, "paid_at": now}
            for order_id in order_ids])
        session.execute(insert(OrderLine), [
            {"order_id": order_id, "product_id": product.id, "sku": product.sku,
             "name": product.name, "quantity": 1, "unit_price_amount": 1999,
             "reservation": "held"} for order_id, product in zip(order_ids, chosen, strict=True)])
        session.execute(insert(OutboxMessage), [
            {"topic": ORDER_PAID_TOPIC, "order_id": order_id, "payload": {},
             "created_at": now, "relayed_at": now} for order_id in order_ids])
        for product in products:
            held = sum(1 for p in chosen if p is product)
            session.execute(update(Product).where(Product.id == product.id)
                            .values(reserved=held))
    if database.engine.dialect.name == "postgresql":
        # The planner's statistics, as autovacuum keeps them on a live database: without
        # them PostgreSQL guesses that few orders are paid and reads every paid order
        # through the status index for each batch (a run copies these with the template).
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE")
    database.dispose()
    return order_ids


def enqueue(client: redis.Redis, order_ids: list[str]) -> None:
    """What the relay sends: one entry per order, pipelined 500 at a time."""
    for start in range(0, len(order_ids), 500):
        with client.pipeline(transaction=False) as pipe:
            for order_id in order_ids[start:start + 500]:
                pipe.xadd(order_stream.STREAM, {"topic": ORDER_PAID_TOPIC, "order_id": order_id,
                                         "outbox_id": 0})
            pipe.execute()


def raw_round_trip(client: redis.Redis, count: int, batch_size: int) -> float:
    """Messages per second through XADD, XREADGROUP and XACK, with no work in between."""
    client.flushall()
    queue.ensure_group(client)
    fake_ids = [uuid.uuid4().hex for _ in range(count)]
    started = time.perf_counter()
    enqueue(client, fake_ids)
    done = 0
    while done < count:
        batch = queue.read_new(client, "raw", batch_size, block_ms=1000)
        queue.acknowledge(client, [delivery.entry_id for delivery in batch])
        done += len(batch)
    return count / (time.perf_counter() - started)


def worker_env(database_url: str, redis_url: str, instance: Path, batch_size: int) -> dict:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PEAKSHOP_", "PROMETHEUS_"))}
    env.update({
        "PYTHONPATH": str(REPO_ROOT), "PEAKSHOP_DATABASE_URL": database_url,
        "PEAKSHOP_REDIS_URL": redis_url, "PEAKSHOP_INSTANCE_PATH": str(instance),
        "PEAKSHOP_LOG_JSON": "false", "PEAKSHOP_WORKER_BATCH_SIZE": str(batch_size),
        "PEAKSHOP_WORKER_BLOCK_MS": "100",
        # Only the confirmations are measured: the chores wait until after the run.
        "PEAKSHOP_WORKER_RELAY_INTERVAL_S": "3600", "PEAKSHOP_WORKER_MAIL_INTERVAL_S": "3600",
        "PEAKSHOP_WORKER_EXPIRE_INTERVAL_S": "3600",
        "PEAKSHOP_WORKER_ORPHAN_INTERVAL_S": "3600"})
    return env


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds so far of these processes and their children."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for process in [root, *root.children(recursive=True)]:
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def confirm_run(database_url: str, client: redis.Redis, order_ids: list[str], workers: int,
                batch_size: int, scratch: Path, profile: Path | None,
                servers: dict[str, list[int]], cpu_ms: dict[str, float]) -> float:
    """Orders per second confirmed by `workers` processes, from enqueue to the last one;
    fills `cpu_ms` with the CPU milliseconds per order of the workers and of `servers`."""
    client.flushall()
    queue.ensure_group(client)
    processes = []
    for number in range(workers):
        instance = scratch / f"worker-{workers}-{number}"
        command = [sys.executable, "-m", "shop.orders.worker_command", "--name", f"bench-{number}"]
        if profile:
            command[1:1] = ["-m", "cProfile", "-o",
                            str(profile / f"worker-{workers}x-{number}.prof")]
        processes.append((instance, subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=worker_env(database_url, client_url(client), instance, batch_size))))
    try:
        for instance, process in processes:
            while heartbeat_age_s(str(instance / "worker.heartbeat")) is None:
                if process.poll() is not None:
                    raise SystemExit(f"a worker exited with {process.returncode} at start-up")
                time.sleep(0.05)
        # A worker runs its chores once at start whatever their intervals; a mail round that
        # overlapped the run would send every confirmation mail during it (seen as one of two
        # workers sending 4,000 mails and halving the rate). Let that first round pass idle.
        time.sleep(CHORES_FIRST_ROUND_S)
        pids = {"workers": [process.pid for _, process in processes], **servers}
        cpu_before = {name: cpu_s(group) for name, group in pids.items()}
        started = time.perf_counter()
        enqueue(client, order_ids)
        while queue.confirmed_total(client) < len(order_ids):
            time.sleep(0.005)
        rate = len(order_ids) / (time.perf_counter() - started)
        cpu_ms.update({name: 1000 * (cpu_s(group) - cpu_before[name]) / len(order_ids)
                       for name, group in pids.items()})
        return rate
    finally:
        for _, process in processes:
            process.send_signal(signal.SIGTERM)
        for _, process in processes:
            process.wait(timeout=60)


def seeded_template(postgres: PostgresServer | None, scratch: Path,
                    orders: int) -> tuple[str, list[str]]:
    """A database seeded with `orders` paid orders, to copy for each run (PostgreSQL: a
    template database's name; SQLite: a file's path), and the orders' ids."""
    if postgres:
        template = "bench_template"
        return template, seed(postgres.create_database(template), orders)
    template = str(scratch / "template.sqlite3")
    return template, seed(f"sqlite:///{template}", orders)


def client_url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


def fresh_database(kind: str, template: str, postgres: PostgresServer | None, run: str,
                   scratch: Path) -> str:
    if kind == "postgresql":
        return postgres.create_database(f"run_{run}", template=template)
    copy = scratch / f"run-{run}.sqlite3"
    shutil.copy(template, copy)
    return f"sqlite:///{copy}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure; best is kept")
    parser.add_argument("--profile", type=Path, help="write a cProfile file per worker here")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="peakshop-bench-"))
    redis_server = RedisServer.start()
    postgres = PostgresServer.start() if args.database == "postgresql" else None
    try:
        template, order_ids = seeded_template(postgres, scratch, args.orders)
        client = redis.Redis.from_url(redis_server.url)
        raw = max(raw_round_trip(client, 20_000, args.batch_size) for _ in range(3))
        print(f"order pipeline, {args.orders} orders, batch {args.batch_size}, "
              f"{args.database}, Redis {client.info()['redis_version']}, "
              f"{os.cpu_count()} CPUs")
        servers = {"redis": [redis_server.process.pid]}
        if postgres:
            servers["postgresql"] = [postgres_pid(postgres)]
        print("CPU ms/order: user + system CPU per confirmed order, of the workers and servers")
        print(f"{'':28}{'per second':>12}{'ratio to raw':>14}"
              + "".join(f"{name + ' CPU':>16}" for name in ["workers", *servers]))
        print(f"{'raw XADD/XREADGROUP/XACK':28}{raw:>12.0f}{1.0:>14.3f}")
        for workers in (int(n) for n in args.workers.split(",")):
            runs = []
            for attempt in range(args.repeat):
                database_url = fresh_database(args.database, template, postgres,
                                              f"{workers}_{attempt}", scratch)
                cpu_ms: dict[str, float] = {}
                runs.append((confirm_run(database_url, client, order_ids, workers,
                                         args.batch_size, scratch, args.profile, servers,
                                         cpu_ms), cpu_ms))
            rate, cpu_ms = max(runs, key=lambda run: run[0])
            label = f"confirmed, {workers} worker{'s' if workers > 1 else ''}"
            print(f"{label:28}{rate:>12.0f}{rate / raw:>14.3f}"
                  + "".join(f"{cpu_ms[name]:>16.3f}" for name in ["workers", *servers]))
    finally:
        redis_server.stop()
        if postgres:
            postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
