"""Where a confirmed order's CPU goes: one worker's loop, in this process, on real servers.

    python -m benchmarks.profile_pipeline [--database postgresql|sqlite] [--orders 4000]
                                          [--batch-size 200] [--rounds 3] [--profile FILE]
                                          [--top 40]

The worker's own `Consumer` (XREADGROUP, the batch's transaction, XACK) runs in this process
against a real Redis and PostgreSQL (or a SQLite file), on the database `benchmarks.pipeline`
seeds: N paid orders of one merchant, one line each over 50 products, two carriers. Each
round starts from a fresh copy of it, adds the N messages to the stream, and lets the
consumer take them batch by batch. Printed per round:

- CPU milliseconds per confirmed order of this process (the worker's side) and of the
  PostgreSQL server (all its processes: the backend serving the worker, and its helpers);
- per batch: the SQL statements the worker sent (an executemany counts once, with its
  parameter sets beside it) and the commands Redis processed.

With --profile, one more round runs under cProfile in CPU time (waiting for PostgreSQL or
Redis is theirs, not the worker's) and the top functions are printed, with the file kept
for `python -m pstats`. Figures are the best (lowest CPU) of --rounds rounds.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import event

from benchmarks.backend_cpu import backend_ns, statement_kind
from benchmarks.pipeline import cpu_s, enqueue, fresh_database, seeded_template
from benchmarks.storefront import postgres_pid
from shop.core.db import Database
from shop.orders import queue
from shop.orders.consumer import Consumer
from shop.orders.heartbeat import Heartbeat
from shop.orders.links import OrderLinks
from shop.orders.metrics import WorkerStats
from shop.orders.worker_settings import WorkerSettings
from tests.support.servers import PostgresServer, RedisServer


@dataclass
class Round:
    worker_cpu_ms: float  # per confirmed order
    postgres_cpu_ms: float  # per confirmed order (0 on SQLite: it runs in the worker)
    statements: float  # per batch
    parameter_sets: float  # per batch, of the executemany statements
    redis_commands: float  # per batch
    batches: int
    backend_ms: dict[str, float]  # per confirmed order, by kind of statement


class Counter:
    """SQL statements sent through `engine`, and the commands Redis processed meanwhile;
    on PostgreSQL also the serving backend's CPU per kind of statement (its first words),
    from /proc/PID/schedstat (nanoseconds, unlike /proc/PID/stat's 10 ms ticks)."""

    def __init__(self, engine, client: redis.Redis):
        self.statements = 0
        self.parameter_sets = 0
        self.client = client
        self._commands_before = self._commands()
        self.backend_ns: dict[str, int] = collections.Counter()
        self._started_ns = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        if engine.dialect.name == "postgresql":
            event.listen(engine, "after_cursor_execute", self._statement_done)

    def _statement_done(self, _conn, cursor, statement, *_):
        self.backend_ns[statement_kind(statement)] += (
            backend_ns(cursor.connection.info.backend_pid) - self._started_ns)

    def _commands(self) -> int:
        return int(self.client.info("stats")["total_commands_processed"])

    def redis_commands(self) -> int:
        return self._commands() - self._commands_before - 1  # this INFO itself

    def _statement(self, _conn, cursor, _statement, parameters, _context, executemany):
        self.statements += 1
        if self.backend_ns is not None and hasattr(cursor.connection, "info"):
            self._started_ns = backend_ns(cursor.connection.info.backend_pid)
        if executemany:
            self.parameter_sets += len(parameters)


def one_round(database_url: str, client: redis.Redis, order_ids: list[str], batch_size: int,
              postgres: list[int], scratch: Path,
              profiler: cProfile.Profile | None = None) -> Round:
    client.flushall()
    queue.ensure_group(client)
    database = Database(database_url)
    settings = WorkerSettings(consumer="profile", heartbeat_file=str(scratch / "heartbeat"),
                              batch_size=batch_size, block_ms=100)
    stats = WorkerStats()
    consumer = Consumer(database, client, settings, threading.Event(),
                        Heartbeat(settings.heartbeat_file, settings.consumer), stats,
                        OrderLinks("http://shop.example", "bench-secret"))
    # Warm up the connections (and the worker's first-use caches) outside the figures.
    consumer.handle([])
    with database.transaction() as session:
        session.connection()
    consumer._next_batch()
    enqueue(client, order_ids)
    counter = Counter(database.engine, client)
    started_cpu, started_postgres = time.process_time(), cpu_s(postgres)
    if profiler:
        profiler.enable()
    while stats.confirmed < len(order_ids):
        deliveries = consumer._next_batch()
        if deliveries:
            consumer.handle(deliveries)
    if profiler:
        profiler.disable()
    worker_s, postgres_s = time.process_time() - started_cpu, cpu_s(postgres) - started_postgres
    database.dispose()
    batches = stats.batches
    return Round(1000 * worker_s / len(order_ids), 1000 * postgres_s / len(order_ids),
                 counter.statements / batches, counter.parameter_sets / batches,
                 counter.redis_commands() / batches, batches,
                 {kind: ns / 1e6 / len(order_ids) for kind, ns in counter.backend_ns.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="also run once under cProfile, kept here")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="peakshop-profile-pipeline-"))
    redis_server = RedisServer.start()
    postgres = PostgresServer.start() if args.database == "postgresql" else None
    try:
        template, order_ids = seeded_template(postgres, scratch, args.orders)
        client = redis.Redis.from_url(redis_server.url)
        postgres_pids = [postgres_pid(postgres)] if postgres else []
        rounds = []
        for number in range(args.rounds):
            url = fresh_database(args.database, template, postgres, f"r{number}", scratch)
            rounds.append(one_round(url, client, order_ids, args.batch_size, postgres_pids,
                                    scratch))
        print(f"one worker in-process, {args.orders} orders, batch {args.batch_size}, "
              f"{args.database}; CPU ms per confirmed order (rounds: "
              + ", ".join(f"{r.worker_cpu_ms:.3f} + {r.postgres_cpu_ms:.3f}" for r in rounds)
              + ")")
        best = min(rounds, key=lambda r: r.worker_cpu_ms + r.postgres_cpu_ms)
        print(f"worker {best.worker_cpu_ms:.3f} ms, PostgreSQL {best.postgres_cpu_ms:.3f} ms, "
              f"in all {best.worker_cpu_ms + best.postgres_cpu_ms:.3f} ms per order; per batch "
              f"{best.statements:.1f} SQL statements ({best.parameter_sets:.0f} parameter sets "
              f"in executemany), {best.redis_commands:.1f} Redis commands")
        if best.backend_ms:
            print("PostgreSQL's backend, CPU ms per order by statement (the rest: BEGIN, "
                  "COMMIT, savepoints, and the server's other processes):")
            for kind, ms in sorted(best.backend_ms.items(), key=lambda item: -item[1]):
                print(f"  {ms:8.4f}  {kind}")
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            url = fresh_database(args.database, template, postgres, "profiled", scratch)
            one_round(url, client, order_ids, args.batch_size, postgres_pids, scratch,
                      profiler)
            profiler.dump_stats(args.profile)
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(args.top)
    finally:
        redis_server.stop()
        if postgres:
            postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
