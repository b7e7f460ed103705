"""What variants, delivery options and VAT cost per request, in process (Flask test client).

    python -m benchmarks.variants [--requests 300]

Real Redis and a SQLite file, one process: the figures compare paths of the same app, side by
side in one run (a product with and without 10 variants, shipping options with no carrier and
with three, checkout with and without carriers); they are not a capacity measurement.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from shop.app import create_app
from shop.core.migrate import upgrade
from tests.support.servers import RedisServer

ADDRESS = {"name": "Ada", "line1": "1 rue du Givre", "city": "Paris", "postal_code": "75001",
           "country": "FR"}


def timed(call, count: int) -> float:
    """Median milliseconds of `count` calls (after a few warm-up calls)."""
    for _ in range(5):
        call()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def shop(client, name: str, carriers: int) -> tuple[str, dict]:
    body = client.post("/api/v1/merchants", json={"name": name, "email": f"{name}@example.com",
                                                   "password": "long enough"}).get_json()
    slug, auth = body["merchant"]["slug"], {"Authorization": f"Bearer {body['token']}"}
    for n in range(carriers):
        client.post(f"/api/v1/shops/{slug}/carriers", headers=auth, json={
            "name": f"C{n}", "daily_capacity": 10**6, "transit_days": n + 1, "priority": n,
            "eu_rate": 490 + n * 500})
    client.post(f"/api/v1/shops/{slug}/products", headers=auth, json={
        "sku": "PLAIN", "name": "Plain", "price": 1290, "stock": 10**6})
    client.post(f"/api/v1/shops/{slug}/products", headers=auth, json={
        "sku": "SOCK", "name": "Socks", "price": 1290,
        "variants": [{"sku": f"SOCK-{size}", "options": {"size": str(size)}, "stock": 10**6}
                     for size in range(36, 46)]})
    return slug, auth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    count = parser.parse_args().requests
    redis_server = RedisServer.start()
    folder = Path(tempfile.mkdtemp(prefix="peakshop-bench-variants-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    try:
        upgrade(url)
        app = create_app({"database_url": url, "redis_url": redis_server.url,
                          "secret_key": "bench", "instance_path": str(folder / "instance"),
                          "log_json": False, "testing": True})
        client = app.test_client()
        bare, _ = shop(client, "bare", 0)
        busy, _ = shop(client, "busy", 3)

        def cart(slug: str, sku: str = "PLAIN") -> str:
            cart_id = client.post(f"/api/v1/shops/{slug}/carts").get_json()["cart_id"]
            client.put(f"/api/v1/carts/{cart_id}/items/{sku}", json={"quantity": 1})
            return cart_id

        def checkout(slug: str):
            cart_id = cart(slug)
            return lambda: client.post(f"/api/v1/carts/{cart_id}/checkout", json={
                "email": "b@example.com", "shipping_address": ADDRESS,
                "payment": {"gateway": "dummy", "token": "tok_ok"}})

        bare_cart, busy_cart = cart(bare), cart(busy)
        rows = [
            ("GET product, no variants", lambda: client.get(
                f"/api/v1/shops/{busy}/products/PLAIN")),
            ("GET product, 10 variants", lambda: client.get(
                f"/api/v1/shops/{busy}/products/SOCK")),
            ("GET shipping-options, no carrier", lambda: client.get(
                f"/api/v1/carts/{bare_cart}/shipping-options?country=FR")),
            ("GET shipping-options, 3 carriers", lambda: client.get(
                f"/api/v1/carts/{busy_cart}/shipping-options?country=FR")),
        ]
        for label, call in rows:
            print(f"{label:40s} {timed(call, count):7.2f} ms")
        for label, slug in (("checkout, no carrier", bare), ("checkout, 3 carriers", busy)):
            # Each checkout needs its own cart: build them first, time only the checkout.
            calls = iter([checkout(slug) for _ in range(count + 5)])
            print(f"{label:40s} {timed(lambda calls=calls: next(calls)(), count):7.2f} ms")
    finally:
        redis_server.stop()


if __name__ == "__main__":
    main()
