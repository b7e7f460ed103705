"""The back-office pages on a big shop: time per page, and the CSV dry run by page vs JSON.

    python -m benchmarks.backoffice [--products 10000] [--orders 1000] [--rounds 30]
                                    [--database sqlite|postgresql]

Flask's test client on a real database and Redis, so the door (session token, role matrix,
API rate), the services and template rendering are all included; only the socket is not.
Products are imported from CSV; orders are placed through the checkout API. Reports the
median and 95th percentile of each page, and the seconds of a 10,000-row dry run through the
upload page (which also keeps the file in Redis for the real import) against the JSON route.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import time

from benchmarks.inprocess import bench_shop
from tests.support.api import ADDRESS

HEADER = "sku,name,description,category,price_amount,currency,stock\n"
PASSWORD = "long enough password"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def catalog_csv(rows: int) -> bytes:
    return (HEADER + "".join(f"SKU-{n:06d},Product {n},A gift ({n}),cat-{n % 20},"
                             f"{1000 + n % 100},EUR,1000\n" for n in range(rows))).encode()


def timed(call, rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with bench_shop(args.database, "big", PASSWORD) as shop:
        client, slug, auth = shop.client, shop.slug, shop.auth
        catalog = catalog_csv(args.products)
        client.post(f"/api/v1/shops/{slug}/products/import?dry_run=false", data=catalog,
                    content_type="text/csv", headers=auth)
        for number in range(args.orders):
            cart = client.post(f"/api/v1/shops/{slug}/carts").get_json()["cart_id"]
            client.put(f"/api/v1/carts/{cart}/items/SKU-{number % args.products:06d}",
                       json={"quantity": 1})
            client.post(f"/api/v1/carts/{cart}/checkout", json={
                "email": "shopper@example.com", "shipping_address": ADDRESS,
                "payment": {"gateway": "dummy",
                            "token": "tok_declined" if number % 10 == 0 else "tok_ok"}})
        form = client.get("/merchant/sign-in").get_data(as_text=True)
        client.post("/merchant/sign-in", data={"csrf_token": CSRF.search(form).group(1),
                                               "email": "big@example.com",
                                               "password": PASSWORD})
        base = f"/merchant/shops/{slug}"
        token = CSRF.search(client.get(f"{base}/products").get_data(as_text=True)).group(1)
        order_id = re.search(r"/orders/([0-9a-f]{32})",
                             client.get(f"{base}/orders").get_data(as_text=True)).group(1)
        print(f"{args.products} products, {args.orders} orders, {args.database}, "
              f"{args.rounds} rounds")
        print(f"{'page':<40} {'p50 ms':>8} {'p95 ms':>8}")
        for name, path in (("products, first page", "/products"),
                           ("products, search 'Product 99'", "/products?q=Product+99"),
                           ("products, category cat-7", "/products?category=cat-7"),
                           ("product edit", "/products/SKU-000042/edit"),
                           ("orders, first page", "/orders"),
                           ("orders, payment_failed", "/orders?status=payment_failed"),
                           ("order detail", f"/orders/{order_id}")):
            p50, p95 = timed(lambda path=path: client.get(base + path), args.rounds)
            print(f"{name:<40} {p50:>8.1f} {p95:>8.1f}")
        dry = catalog_csv(10_000)
        started = time.perf_counter()
        page = client.post(f"{base}/products/import", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(dry), "c.csv")})
        by_page = time.perf_counter() - started
        assert page.status_code == 200
        started = time.perf_counter()
        json_route = client.post(f"/api/v1/shops/{slug}/products/import?dry_run=true",
                                 data=dry, content_type="text/csv", headers=auth)
        by_json = time.perf_counter() - started
        assert json_route.status_code == 200
        print(f"10,000-row dry run: upload page {by_page:.2f} s, JSON route {by_json:.2f} s")


if __name__ == "__main__":
    main()
