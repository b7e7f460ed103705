"""The back-office dashboard of a shop with many orders: how long one page takes.

    python -m benchmarks.backoffice_dashboard [--orders 100000] [--database sqlite|postgresql]
                                              [--requests 30] [--without-index]

Seeds one shop with `--orders` orders spread over the last 30 days (a tenth of them today),
200 products and 5 coming events, straight into a real database (bulk inserts, so seeding
is quick), then times GET /merchant/shops/{slug}/ through the app (Flask's test client, so
the door, the role check and the rendering are included) and reports the median and 95th
percentile. `--without-index` drops the index on orders (merchant_id, created_at) first
(migration 0012), to show what today's sales query gains from it.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert, text

from benchmarks.inprocess import bench_shop
from shop.catalog.models import Product
from shop.core.timeutil import utcnow
from shop.orders.models import Order
from shop.orders.summary import sales_between

STATUSES = ("paid", "confirmed", "confirmed", "pending_payment", "payment_failed")


def seed(app, merchant_id: int, orders: int) -> None:
    now = utcnow()
    database = app.extensions["peakshop"].database
    with database.transaction() as session:
        session.execute(insert(Product), [
            {"merchant_id": merchant_id, "sku": f"SKU-{n:04d}", "name": f"Product {n}",
             "description": "", "price_amount": 1000 + n, "currency": "EUR",
             "stock": n % 40, "reserved": 0} for n in range(200)])
    batch = 10_000
    for start in range(0, orders, batch):
        rows = []
        for n in range(start, min(start + batch, orders)):
            age = timedelta(hours=(n % 10) * 72 + n % 24) if n % 10 else timedelta(
                minutes=n % 600)
            rows.append({"id": uuid.uuid4().hex, "merchant_id": merchant_id,
                         "email": "shopper@example.com", "shipping_address": {},
                         "status": STATUSES[n % len(STATUSES)], "total_amount": 2599,
                         "currency": "EUR", "payment_gateway": "dummy",
                         "reservation_expires_at": now, "created_at": now - age,
                         "updated_at": now - age})
        with database.transaction() as session:
            session.execute(insert(Order), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--without-index", action="store_true")
    args = parser.parse_args()
    with bench_shop(args.database, "busy") as shop:
        app, client, slug, token, auth = shop.app, shop.client, shop.slug, shop.token, shop.auth
        for day in range(5):
            client.post(f"/api/v1/shops/{slug}/events", headers=auth, json={
                "name": f"Drop {day}", "starts_at": f"2099-12-{day + 1:02d}T18:00:00Z",
                "duration_min": 60, "expected_peak_rps": 100 * (day + 1)})
        seed(app, shop.merchant_id, args.orders)
        database = app.extensions["peakshop"].database
        with database.transaction() as session:
            if args.without_index:
                session.execute(text("DROP INDEX ix_orders_merchant_created_at"))
            if args.database == "postgresql":
                session.execute(text("ANALYZE"))
        with client.session_transaction() as session:
            session["merchant_token"] = token
        url = f"/merchant/shops/{slug}/"
        assert client.get(url).status_code == 200  # warm-up: templates, pools
        timings = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        query_timings = []
        midnight = datetime.combine(utcnow().date(), datetime.min.time())
        for _ in range(args.requests):
            with database.reading() as session:
                started = time.perf_counter()
                sales_between(session, shop.merchant_id, midnight,
                              midnight + timedelta(days=1))
                query_timings.append((time.perf_counter() - started) * 1000)
        print(f"{args.database}, {args.orders} orders, index on (merchant_id, created_at): "
              f"{'no' if args.without_index else 'yes'}")
        for name, measured in (("dashboard page", timings), ("today's sales query", query_timings)):
            measured.sort()
            p95 = measured[max(0, int(len(measured) * 0.95) - 1)]
            print(f"{name}: median {statistics.median(measured):.1f} ms, p95 {p95:.1f} ms "
                  f"over {args.requests} runs")


if __name__ == "__main__":
    main()
