"""Backup and restore of a large shop: how big, how long.

    python -m benchmarks.backup [--orders 1000000] [--store file:///path | s3://bucket/x]

A throw-away PostgreSQL 15 server gets N generated orders (one line and one outbox row
each, over 1,000 products; made with generate_series, so generating is quick), then:
- `backup`: the encrypted base backup into the store — its size and time;
- `drill`: the latest backup restored into a scratch server (download, decrypt, unpack,
  WAL replay, promotion: the RTO of a whole-server restore) and verified.
The numbers are printed as one JSON object; nothing is asserted. Needs PostgreSQL 15's
programs (as the test suite does) and the `backup` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import psycopg

from shop.backup import operations
from shop.core.migrate import upgrade
from tests.backup.support import TEST_KEY, DisposablePostgres

GENERATE = """
INSERT INTO merchants (id, slug, name, created_at) VALUES (1, 'bench', 'Bench', now());
INSERT INTO products (merchant_id, sku, name, description, price_amount, currency, stock,
                      reserved, created_at, updated_at)
    SELECT 1, 'SKU-' || p, 'Product ' || p, '', 1000 + p, 'EUR', 1000000, 0, now(), now()
    FROM generate_series(1, 1000) AS p;
INSERT INTO orders (id, merchant_id, email, shipping_address, status, total_amount, currency,
                    payment_gateway, reservation_expires_at, created_at, updated_at, paid_at,
                    confirmed_at)
    SELECT md5(g::text), 1, 'shopper' || g || '@example.com',
           json_build_object('name', 'Shopper ' || g, 'line1', g || ' Frost Lane',
                             'city', 'Rovaniemi', 'postal_code', '96930', 'country', 'FI'),
           'confirmed', 2 * (1000 + g % 1000 + 1), 'EUR', 'dummy', now(),
           now() - g * interval '1 second', now(), now(), now()
    FROM generate_series(1, %(orders)s) AS g;
INSERT INTO order_lines (order_id, product_id, sku, name, quantity, unit_price_amount,
                         reservation)
    SELECT md5(g::text), g % 1000 + 1, 'SKU-' || (g % 1000 + 1), 'Product', 2,
           1000 + g % 1000 + 1, 'committed'
    FROM generate_series(1, %(orders)s) AS g;
INSERT INTO outbox (topic, order_id, payload, created_at, relayed_at)
    SELECT 'order.paid', md5(g::text), '{}', now(), now() FROM generate_series(1, %(orders)s) AS g;
"""


def generate(server: DisposablePostgres, orders: int) -> float:
    began = time.monotonic()
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres",
                         autocommit=True) as connection:
        with connection.transaction():
            connection.execute(GENERATE.replace("%(orders)s", str(int(orders))))
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")
    return time.monotonic() - began


def database_bytes(server: DisposablePostgres) -> int:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres") as c:
        return int(c.execute("SELECT sum(pg_database_size(datname)) FROM pg_database")
                   .fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--store", help="backup URL (default: a temporary folder)")
    args = parser.parse_args()
    os.environ.setdefault("PEAKSHOP_BACKUP_KEY", TEST_KEY)
    scratch = tempfile.mkdtemp(prefix="peakshop-bench-backup-")
    store = args.store or f"file://{scratch}/store"
    server = DisposablePostgres.start()
    try:
        upgrade(server.url())
        generated_s = generate(server, args.orders)
        made = operations.back_up(server.url(), store, archiving=True)
        report = operations.drill(store)
        print(json.dumps({
            "orders": args.orders,
            "generate_s": round(generated_s, 1),
            "database_mb": round(database_bytes(server) / 1e6, 1),
            "backup_plain_mb": round(made.backup.size / 1e6, 1),  # gzip'd tar, before AES
            "backup_stored_mb": round(made.backup.stored_bytes / 1e6, 1),
            "backup_s": round(made.seconds, 1),
            "restore_s": report.rto_s,  # download, decrypt, unpack, replay, promote
            "verify_s": report.verify_s,
            "verified": report.verified,
            "orders_checked": report.orders_checked,
            "store": store.split("://")[0],
        }))
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
