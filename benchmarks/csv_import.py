"""CSV catalog import of 10,000 rows: time and peak memory, create vs update vs dry run.

    python -m benchmarks.csv_import [--rows 10000] [--database sqlite|postgresql]

Drives POST /api/v1/shops/{slug}/products/import through the app (Flask's test client, so
HTTP parsing and the role check are included) on a real database and Redis. Rows are
checked by the catalog's own rules, then written in one INSERT and one executemany. Peak
memory is Python's allocation peak during the request (tracemalloc, measured in a separate
pass because tracing slows the code down) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from benchmarks.inprocess import bench_shop

HEADER = "sku,name,description,category,price_amount,currency,stock\n"


def catalog_csv(rows: int, price: int) -> bytes:
    lines = [HEADER] + [f"SKU-{n:06d},Product {n},\"A gift, wrapped ({n})\",cat-{n % 20},"
                        f"{price + n % 100},EUR,{n % 50}\n" for n in range(rows)]
    return "".join(lines).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with bench_shop(args.database, "csv") as shop:
        client, slug, auth = shop.client, shop.slug, shop.auth
        created_file, updated_file = catalog_csv(args.rows, 1000), catalog_csv(args.rows, 2000)
        print(f"{args.rows} rows, {len(created_file) / 1024:.0f} KiB, {args.database}")
        print(f"{'pass':<16} {'seconds':>8} {'rows/s':>8}  result")

        def run(name: str, body: bytes, dry_run: bool) -> None:
            started = time.perf_counter()
            response = client.post(f"/api/v1/shops/{slug}/products/import?dry_run="
                                   f"{str(dry_run).lower()}", data=body,
                                   content_type="text/csv", headers=auth)
            elapsed = time.perf_counter() - started
            result = response.get_json()
            assert response.status_code == 200 and not result["errors"], result
            print(f"{name:<16} {elapsed:>8.2f} {args.rows / elapsed:>8.0f}  "
                  f"created {result['created']}, updated {result['updated']}")

        run("create", created_file, False)
        run("update", updated_file, False)
        run("dry run", created_file, True)
        started = time.perf_counter()
        exported = client.get(f"/api/v1/shops/{slug}/products/export", headers=auth)
        print(f"{'export':<16} {time.perf_counter() - started:>8.2f} "
              f"{args.rows / (time.perf_counter() - started):>8.0f}  "
              f"{len(exported.data) / 1024:.0f} KiB")
        tracemalloc.start()
        client.post(f"/api/v1/shops/{slug}/products/import?dry_run=true", data=created_file,
                    content_type="text/csv", headers=auth)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak Python allocations during one import: {peak / 2**20:.1f} MiB; "
              f"process peak RSS: {rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
