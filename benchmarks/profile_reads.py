"""Where a catalog or product read spends its time: cProfile of the whole WSGI app in-process.

    python -m benchmarks.profile_reads [--database sqlite|postgresql] [--requests 2000]
                                       [--read product-json] [--top 25] [--images] [--summary]

The app is built as gunicorn builds it (file-backed Prometheus metrics, the same middleware)
and called through its WSGI entry with a request werkzeug builds, so the figures are the
app's own, without a server or a test client around them. The shop is the storefront
benchmark's (200 products); `--images` gives the listed products an image each. Prints the
mean wall and CPU time per request of each read and the profile's top functions by CPU time
(own and cumulative) for the reads named with `--read` (all by default). `--summary` only
measures: each read's CPU per request, the best of three rounds (steadier than a server run
on a shared machine). PEAKSHOP_CATALOG_RENDERED_MEMO_MB=0 measures the render itself.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time

from PIL import Image
from werkzeug.test import EnvironBuilder

READS = {
    "product-json": "/api/v1/shops/{slug}/products/BENCH",
    "product-html": "/shops/{slug}/products/BENCH",
    "catalog-json": "/api/v1/shops/{slug}/products",
    "catalog-html": "/shops/{slug}/",
}


def call(app, path: str) -> int:
    environ = EnvironBuilder(path=path, base_url="http://127.0.0.1:8000").get_environ()
    status = []
    body = app(environ, lambda s, headers, exc_info=None: status.append(s))
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()
    return int(status[0].split()[0])


def seed(shop, products: int, images: bool) -> None:
    client, auth, slug = shop.client, shop.auth, shop.slug
    client.post(f"/api/v1/shops/{slug}/products", headers=auth, json={
        "sku": "BENCH", "name": "Benchmark bauble", "category": "decor",
        "description": "Glass, hand-painted.", "price": 1299, "stock": 100_000_000})
    rows = ["sku,name,description,category,price_amount,currency,stock"] + [
        f"BENCH-{n},Bauble {n},Glass,decor,{500 + n},EUR,{n % 50}" for n in range(1, products)]
    client.post(f"/api/v1/shops/{slug}/products/import?dry_run=false",
                headers={**auth, "Content-Type": "text/csv"}, data="\n".join(rows).encode())
    if images:
        picture = io.BytesIO()
        Image.new("RGB", (640, 480), (200, 30, 30)).save(picture, "PNG")
        listed = client.get(f"/api/v1/shops/{slug}/products").get_json()["items"]
        for product in listed:
            response = client.post(
                f"/api/v1/shops/{slug}/products/{product['sku']}/images", headers=auth,
                data={"image": (io.BytesIO(picture.getvalue()), "red.png"), "alt": "Red"},
                content_type="multipart/form-data")
            assert response.status_code == 201, response.get_data(as_text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--read", choices=sorted(READS), action="append")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--images", action="store_true")
    parser.add_argument("--summary", action="store_true",
                        help="no profile: each read's CPU ms per request, best of 3 rounds")
    parser.add_argument("--memo-ms", type=int, default=None,
                        help="PEAKSHOP_CATALOG_REVALIDATION_MEMO_MS (default: the setting's)")
    args = parser.parse_args()
    # As under gunicorn: metrics file-backed (set before the app builds them).
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="peakshop-prom-"))
    if args.memo_ms is not None:
        os.environ["PEAKSHOP_CATALOG_REVALIDATION_MEMO_MS"] = str(args.memo_ms)
    from benchmarks.inprocess import bench_shop

    with bench_shop(args.database, "profiled") as shop:
        seed(shop, args.products, args.images)
        app = shop.app
        for name in args.read or sorted(READS):
            path = READS[name].format(slug=shop.slug)
            for _ in range(50):
                assert call(app, path) == 200, path
            if args.summary:
                rounds = []
                for _ in range(3):
                    cpu_started = time.process_time()
                    for _ in range(args.requests):
                        call(app, path)
                    rounds.append(1000 * (time.process_time() - cpu_started) / args.requests)
                print(f"{name}: {min(rounds):.3f} ms CPU per request ({args.database}, "
                      f"{'with' if args.images else 'without'} images)")
                continue
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in range(args.requests):
                call(app, path)
            mean_ms = 1000 * (time.perf_counter() - started) / args.requests
            cpu_ms = 1000 * (time.process_time() - cpu_started) / args.requests
            profile = cProfile.Profile(time.process_time)  # CPU, as the benchmark counts
            profile.enable()
            for _ in range(args.requests):
                call(app, path)
            profile.disable()
            print(f"\n===== {name} {path}: {mean_ms:.3f} ms wall, {cpu_ms:.3f} ms CPU "
                  f"per request unprofiled ({args.database})")
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profile, stream=out).strip_dirs().sort_stats(order).print_stats(
                    args.top)
                print("\n".join(line for line in out.getvalue().splitlines()[6:] if line))


if __name__ == "__main__":
    main()
