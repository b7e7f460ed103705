"""What one add-to-cart and one checkout cost inside the process: CPU, SQL, Redis.

    python -m benchmarks.checkout_profile [--database sqlite|postgresql] [--requests 500]
                                          [--profile FILE] [--top 25]

Flask's test client on a real database and Redis (see benchmarks.inprocess), so every hook of
the app runs; only the socket and gunicorn are left out. For each request kind it prints the
process CPU milliseconds per request, the SQL statements and transactions (BEGINs) it sent,
and the Redis commands Redis saw (INFO commandstats, so every round trip of every hook
counts, the SLO counting included). On PostgreSQL it also prints, per checkout, the CPU its
server backend spent on each statement of the direct path (from /proc/<backend>/schedstat).
With --profile, a cProfile of the checkouts is written to FILE and its top functions by
cumulative time printed.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import json
import os
import pstats
import time
from collections.abc import Callable

from sqlalchemy import event

from benchmarks.backend_cpu import backend_ns, statement_kind
from benchmarks.inprocess import BenchShop, bench_shop
from shop.cart import service as carts
from shop.status import slo_batch

ADDRESS = {"name": "Ada", "line1": "1 Frost Lane", "city": "Rovaniemi",
           "postal_code": "96930", "country": "FI"}
CHECKOUT_BODY = {"email": "bench@example.com", "shipping_address": ADDRESS,
                 "payment": {"gateway": "dummy", "token": "tok_ok"}}


class Counted:
    """SQL statements and transactions sent through the app's engines, and the statements
    run on its direct statements (which SQLAlchemy's events do not see)."""

    def __init__(self, shop: BenchShop) -> None:
        self._statements = 0
        self.transactions = 0
        database = shop.app.extensions["peakshop"].database
        self._direct = database.statements
        for engine in {database.engine, database.read_engine}:
            event.listen(engine, "before_cursor_execute", self._statement)
            event.listen(engine, "begin", self._begin)

    @property
    def statements(self) -> int:
        return self._statements + self._direct.executed

    def _statement(self, *_args) -> None:
        self._statements += 1

    def _begin(self, *_args) -> None:
        self.transactions += 1


class BackendTime:
    """The server backend's CPU nanoseconds per statement of the direct path (PostgreSQL on
    psycopg), by the statement's first words; each statement read before and after it ran
    on its connection's backend."""

    def __init__(self, shop: BenchShop) -> None:
        self.ns: collections.Counter[str] = collections.Counter()
        self.counting = False
        statements = shop.app.extensions["peakshop"].database.statements
        run = statements._rows_on_libpq

        def timed(connection, compiled, values, first_only):
            if not self.counting:
                return run(connection, compiled, values, first_only)
            started = backend_ns(connection.info.backend_pid)
            try:
                return run(connection, compiled, values, first_only)
            finally:
                self.ns[statement_kind(compiled.sql, words=5)] += (
                    backend_ns(connection.info.backend_pid) - started)

        statements._rows_on_libpq = timed


def redis_commands(shop: BenchShop) -> int:
    stats = shop.app.extensions["peakshop"].redis.info("commandstats")
    # The INFO call itself is one command; it is counted on both sides and cancels out.
    return sum(int(value["calls"]) for value in stats.values())


def filled_carts(shop: BenchShop, count: int) -> list[str]:
    client = shop.app.extensions["peakshop"].redis
    ids = []
    with client.pipeline(transaction=False) as pipe:
        for _ in range(count):
            cart_id = os.urandom(16).hex()
            pipe.hset(carts.KEY_PREFIX + cart_id,
                      mapping={carts.SHOP_FIELD: shop.merchant_id, carts.ITEM_PREFIX + "BENCH": 1})
            pipe.expire(carts.KEY_PREFIX + cart_id, 3600)
            ids.append(cart_id)
        pipe.execute()
    return ids


def measure(shop: BenchShop, counted: Counted, name: str, count: int,
            request: Callable[[int], object], profile: cProfile.Profile | None = None) -> dict:
    statements, transactions = counted.statements, counted.transactions
    commands = redis_commands(shop)
    started = time.process_time()
    if profile:
        profile.enable()
    for index in range(count):
        response = request(index)
        if response.status_code >= 300:
            raise SystemExit(f"{name} answered {response.status_code}: {response.get_data()!r}")
    if profile:
        profile.disable()
    cpu_ms = (time.process_time() - started) * 1000 / count
    return {"request": name, "cpu_ms": round(cpu_ms, 2),
            "sql": round((counted.statements - statements) / count, 2),
            "transactions": round((counted.transactions - transactions) / count, 2),
            "redis": round((redis_commands(shop) - commands) / count, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", help="write the checkouts' cProfile here")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with bench_shop(args.database, "profile") as shop:
        created = shop.client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                                   json={"sku": "BENCH", "name": "Benchmark bauble",
                                         "price": 1299, "stock": 100_000_000})
        assert created.status_code == 201, created.get_data()
        counted = Counted(shop)
        warm = filled_carts(shop, 50)
        for cart_id in warm:  # connections, caches and statement compilation settle first
            shop.client.put(f"/api/v1/carts/{cart_id}/items/BENCH", json={"quantity": 2})
            shop.client.post(f"/api/v1/carts/{cart_id}/checkout", json=CHECKOUT_BODY)
        put_carts = filled_carts(shop, 200)
        rows = [measure(shop, counted, "add to cart", args.requests, lambda i: shop.client.put(
            f"/api/v1/carts/{put_carts[i % 200]}/items/BENCH", json={"quantity": i % 3 + 1}))]
        checkout_carts = filled_carts(shop, args.requests)
        # CPU time, not wall time: waiting for PostgreSQL or Redis is their cost, not ours.
        profile = cProfile.Profile(time.process_time) if args.profile else None
        rows.append(measure(shop, counted, "checkout", args.requests,
                            lambda i: shop.client.post(
                                f"/api/v1/carts/{checkout_carts[i]}/checkout",
                                json=CHECKOUT_BODY), profile))
        backend = BackendTime(shop) if args.database == "postgresql" else None
        if backend:
            # A pass of its own: reading /proc around each statement costs this process CPU
            # that the pass above must not count.
            timed_carts = filled_carts(shop, args.requests)
            backend.counting = True
            for cart_id in timed_carts:
                shop.client.post(f"/api/v1/carts/{cart_id}/checkout", json=CHECKOUT_BODY)
            backend.counting = False
        slo_batch.flush_all()  # while Redis still runs
    print(f"in-process, {args.database}, {args.requests} requests each")
    print(f"{'request':14}{'CPU ms':>8}{'SQL':>6}{'BEGINs':>8}{'Redis':>7}")
    for row in rows:
        print(f"{row['request']:14}{row['cpu_ms']:>8.2f}{row['sql']:>6.1f}"
              f"{row['transactions']:>8.1f}{row['redis']:>7.1f}")
    if backend:
        print("PostgreSQL's backend, CPU ms per checkout by statement of the direct path:")
        for kind, ns in backend.ns.most_common():
            print(f"    {ns / 1e6 / args.requests:.4f}  {kind}")
    print(json.dumps(rows))
    if profile:
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
