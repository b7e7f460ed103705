"""Storefront throughput beside a Flask hello-world, under the same gunicorn settings.

    python -m benchmarks.storefront [--database sqlite|postgresql] [--seconds 8] [--workers 2]
                                    [--products 200] [--reads-only | --writes-only] [--images]
                                    [--loadgen-cpus 1] [--json FILE]

Both apps run as `gunicorn -c python:shop.gunicorn_conf` with the same worker count and
class; wrk (closed loop, 16 keep-alive connections) finds each endpoint's peak on this
machine, and the figures are printed as ratios to hello-world's, measured in the same run,
with the server's CPU time per request (psutil: user + system of gunicorn's processes).
The catalog and product reads are measured twice: a full render, and the 304 answer to a
revalidation (`If-None-Match` with the page's ETag), which is what a CDN or Ingress cache in
front sends once a page's max-age is over; with `--images` the product and every product of
the catalog's first page have an image. Checkout is then offered an open-loop 70% of its
peak to read its latency under a steady, realistic load (skipped with --reads-only;
--writes-only measures hello-world, add to cart and checkout alone). Redis
and PostgreSQL are real servers started for the run.

With `--loadgen-cpus 1` the load generators (wrk, and this process's open loop) run on CPU 1
only and every server (both gunicorns, PostgreSQL, Redis) on the others, so the load
generator no longer takes its CPU from the server it measures (on 2 cores the servers then
have one core: the rates halve, the ratios stop flattering). `--json FILE` writes the rows
for `benchmarks.before_after`, which compares two revisions side by side.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis
import requests
from PIL import Image

from benchmarks.loadgen import Throughput, paced, wrk
from common.cpu_placement import CpuListError, parse_cpu_list, servers_cpus, usable_cpus
from shop.cart import service as carts
from shop.core.migrate import upgrade
from tests.support.live import LiveServer
from tests.support.servers import PostgresServer, RedisServer, free_port

ADDRESS = {"name": "Ada", "line1": "1 Frost Lane", "city": "Rovaniemi",
           "postal_code": "96930", "country": "FI"}
CHECKOUT_BODY = json.dumps({"email": "bench@example.com", "shipping_address": ADDRESS,
                            "payment": {"gateway": "dummy", "token": "tok_ok"}})

PUT_SCRIPT = """
local carts = {%s}
local n = 0
request = function()
  n = n + 1
  local cart = carts[(n %% #carts) + 1]
  return wrk.format("PUT", "/api/v1/carts/" .. cart .. "/items/BENCH",
    {["Content-Type"] = "application/json"}, '{"quantity": ' .. ((n %% 3) + 1) .. '}')
end
"""

CHECKOUT_SCRIPT = """
local carts = {}
for line in io.lines("%s") do carts[#carts + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/api/v1/carts/" .. carts[n] .. "/checkout",
    {["Content-Type"] = "application/json"}, '%s')
end
"""


def pin(pids: list[int], cpus: set[int]) -> None:
    """Keep these processes, and every child they have or fork later, on `cpus`."""
    for pid in pids:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                process.cpu_affinity(sorted(cpus))
            except psutil.NoSuchProcess:
                pass


def start_hello(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PEAKSHOP_BIND": f"127.0.0.1:{port}",
           "PEAKSHOP_WEB_WORKERS": str(workers), "PEAKSHOP_WEB_THREADS": "1"}
    env.pop("PEAKSHOP_PIDFILE", None)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:shop.gunicorn_conf",
                                "benchmarks.hello_app:app"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(url, timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return process, url


def picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (180, 30, 40)).save(out, "PNG")
    return out.getvalue()


def add_images(url: str, slug: str, auth: dict[str, str]) -> None:
    """One image for BENCH and for each product the catalog's first page lists."""
    listed = requests.get(f"{url}/api/v1/shops/{slug}/products").json()["items"]
    data = picture()
    for sku in {"BENCH", *(product["sku"] for product in listed)}:
        requests.post(f"{url}/api/v1/shops/{slug}/products/{sku}/images", headers=auth,
                      files={"image": ("bauble.png", data, "image/png")},
                      data={"alt": "A red glass bauble"}).raise_for_status()


def seed(url: str, products: int = 0, images: bool = False) -> tuple[str, int]:
    merchant = requests.post(url + "/api/v1/merchants", json={
        "name": "Bench", "email": "bench@example.com", "password": "long enough"}).json()
    slug = merchant["merchant"]["slug"]
    auth = {"Authorization": f"Bearer {merchant['token']}"}
    requests.post(f"{url}/api/v1/shops/{slug}/products", headers=auth,
                  json={"sku": "BENCH", "name": "Benchmark bauble", "category": "decor",
                        "description": "Glass, hand-painted.", "price": 1299,
                        "stock": 100_000_000}).raise_for_status()
    if products > 1:
        # The rest of a shop's catalog, so the catalog page and its freshness query see one.
        rows = ["sku,name,description,category,price_amount,currency,stock"] + [
            f"BENCH-{n},Bauble {n},Glass,decor,{500 + n},EUR,{n % 50}"
            for n in range(1, products)]
        requests.post(f"{url}/api/v1/shops/{slug}/products/import?dry_run=false",
                      headers={**auth, "Content-Type": "text/csv"},
                      data="\n".join(rows).encode()).raise_for_status()
    if images:
        add_images(url, slug, auth)
    return slug, merchant["merchant"]["id"]


def process_tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a server and its workers so far."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def measured(pids: dict[str, int], url: str, *, seconds: int,
             **options) -> tuple[Throughput, dict[str, float]]:
    """wrk's peak for `url`, and the CPU milliseconds per answered request of each server
    in `pids` (the web server first; then its database and Redis, when they run apart)."""
    before = {name: process_tree_cpu_s(pid) for name, pid in pids.items()}
    result = wrk(url, seconds=seconds, **options)
    return result, {name: 1000 * (process_tree_cpu_s(pid) - before[name])
                    / max(1, result.requests) for name, pid in pids.items()}


def postgres_pid(server: PostgresServer) -> int:
    with open(os.path.join(server.directory, "data", "postmaster.pid")) as pidfile:
        return int(pidfile.readline())


def revalidation(url: str) -> dict[str, str] | None:
    """The conditional request a cache sends for `url`, checked to be answered 304; None
    when the server gives no ETag (a revision before HTTP caching, measured for comparison)."""
    etag = requests.get(url, timeout=10).headers.get("ETag")
    if etag is None:
        return None
    answer = requests.get(url, headers={"If-None-Match": etag}, timeout=10)
    if answer.status_code != 304:
        raise SystemExit(f"{url} answered {answer.status_code} to its own ETag, not 304")
    return {"If-None-Match": etag}


def filled_carts(client: redis.Redis, merchant_id: int, count: int) -> list[str]:
    """Carts holding one BENCH each, written straight to Redis in the cart service's format."""
    ids = []
    with client.pipeline(transaction=False) as pipe:
        for _ in range(count):
            cart_id = os.urandom(16).hex()
            pipe.hset(carts.KEY_PREFIX + cart_id,
                      mapping={carts.SHOP_FIELD: merchant_id, carts.ITEM_PREFIX + "BENCH": 1})
            pipe.expire(carts.KEY_PREFIX + cart_id, 3600)
            ids.append(cart_id)
        pipe.execute()
    return ids


def cpu_list(text: str) -> set[int]:
    """'1' or '2,3' -> {1} or {2, 3}: the CPUs the load generators may use."""
    try:
        return parse_cpu_list(text, usable_cpus())
    except CpuListError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--products", type=int, default=200,
                        help="products in the shop (the catalog page lists 20 of them)")
    parser.add_argument("--reads-only", action="store_true",
                        help="only hello-world, catalog and product reads (no cart, checkout)")
    parser.add_argument("--writes-only", action="store_true",
                        help="only hello-world, add to cart and checkout (no catalog reads)")
    parser.add_argument("--images", action="store_true",
                        help="an image for the product and each product of the catalog page")
    parser.add_argument("--loadgen-cpus", type=cpu_list, metavar="CPUS",
                        help="run the load generators on these CPUs (e.g. 1 or 2,3) and "
                             "the servers on the others")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the rows as JSON (for benchmarks.before_after)")
    args = parser.parse_args()
    server_cpus = None
    if args.loadgen_cpus is not None:
        try:
            server_cpus = servers_cpus(args.loadgen_cpus, usable_cpus())
        except CpuListError as problem:
            parser.error(f"--loadgen-cpus: {problem}")

    workdir = Path(tempfile.mkdtemp(prefix="peakshop-bench-"))
    redis_server = RedisServer.start()
    postgres = None
    if args.database == "postgresql":
        postgres = PostgresServer.start()
        database_url = postgres.create_database("bench")
    else:
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    upgrade(database_url)
    hello, hello_url = start_hello(args.workers)
    # Measured as production runs it: response checks off unless asked for (they are on in
    # development and under test, and cost a JSON answer up to 0.8 ms).
    shop = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                            instance_path=str(workdir / "instance"), workers=args.workers,
                            extra_env={"PEAKSHOP_VALIDATE_RESPONSES": os.environ.get(
                                "PEAKSHOP_VALIDATE_RESPONSES", "false")})
    client = redis.Redis.from_url(redis_server.url)
    steady = None
    try:
        slug, merchant_id = seed(shop.url, args.products, args.images)
        servers = {"web": shop.process.pid, "redis": redis_server.process.pid}
        if postgres:
            servers["postgresql"] = postgres_pid(postgres)
        if args.loadgen_cpus is not None:
            pin([hello.pid, *servers.values()], server_cpus)
            os.sched_setaffinity(0, args.loadgen_cpus)  # wrk inherits it
        rows = []
        baseline, hello_cpu = measured({"web": hello.pid}, hello_url + "/",
                                       seconds=args.seconds)
        rows.append(("hello-world (GET /)", baseline, hello_cpu))
        reads = [("product page, JSON", f"{shop.url}/api/v1/shops/{slug}/products/BENCH"),
                 ("product page, HTML", f"{shop.url}/shops/{slug}/products/BENCH"),
                 ("catalog, JSON", f"{shop.url}/api/v1/shops/{slug}/products"),
                 ("catalog page, HTML", f"{shop.url}/shops/{slug}/")]
        for name, url in ([] if args.writes_only else reads):
            rows.append((name, *measured(servers, url, seconds=args.seconds)))
            conditional = revalidation(url)
            if conditional is not None:
                rows.append((f"{name}, 304", *measured(servers, url, seconds=args.seconds,
                                                       headers=conditional)))
        if not args.reads_only:
            put_script = workdir / "put.lua"
            put_script.write_text(PUT_SCRIPT % ", ".join(
                f'"{c}"' for c in filled_carts(client, merchant_id, 200)))
            rows.append(("add to cart", *measured(servers, shop.url + "/",
                                                  seconds=args.seconds,
                                                  script=str(put_script))))
            cart_file = workdir / "carts.txt"
            cart_file.write_text("\n".join(filled_carts(client, merchant_id, 40_000)) + "\n")
            checkout_script = workdir / "checkout.lua"
            checkout_script.write_text(CHECKOUT_SCRIPT % (cart_file, CHECKOUT_BODY))
            checkout_peak, checkout_cpu = measured(servers, shop.url + "/",
                                                   seconds=args.seconds,
                                                   script=str(checkout_script))
            rows.append(("checkout (dummy gateway)", checkout_peak, checkout_cpu))

            steady_carts = filled_carts(
                client, merchant_id, int(checkout_peak.requests_per_s * 0.7 * args.seconds) + 10)
            steady = paced(lambda i: ("POST",
                                      f"{shop.url}/api/v1/carts/{steady_carts[i]}/checkout",
                                      {"data": CHECKOUT_BODY,
                                       "headers": {"Content-Type": "application/json"}}),
                           rate=checkout_peak.requests_per_s * 0.7, seconds=args.seconds)
    finally:
        shop.stop()
        hello.terminate()
        hello.wait()
        redis_server.stop()
        if postgres:
            postgres.stop()

    placement = (f"servers on CPUs {sorted(server_cpus)}, load generator on "
                 f"{sorted(args.loadgen_cpus)}" if args.loadgen_cpus is not None
                 else f"{os.cpu_count()} cores shared")
    print(f"\nstorefront vs hello-world — {args.database}, gunicorn {args.workers} sync workers, "
          f"wrk 16 connections, {args.seconds} s each, {placement}, "
          f"{args.products} products{', with images' if args.images else ''}\n")
    columns = ["web", "postgresql", "redis"] if postgres else ["web", "redis"]
    print("CPU ms/req: user + system CPU of each server per answered request\n")
    print(f"{'endpoint':30} {'req/s':>9} {'ratio':>7} {'p50 ms':>8} {'p99 ms':>8} "
          + "".join(f"{name + ' CPU':>15}" for name in columns) + f" {'non-2xx':>8}")
    for name, result, cpu_ms in rows:
        print(f"{name:30} {result.requests_per_s:9.0f} "
              f"{result.requests_per_s / baseline.requests_per_s:7.2f} "
              f"{result.p50_ms:8.1f} {result.p99_ms:8.1f} "
              + "".join(f"{cpu_ms[column]:15.2f}" if column in cpu_ms else f"{'':15}"
                        for column in columns) + f" {result.non_2xx:8d}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "rows": [{"endpoint": name, "requests_per_s": result.requests_per_s,
                      "ratio": result.requests_per_s / baseline.requests_per_s,
                      "p99_ms": result.p99_ms, "non_2xx": result.non_2xx, "cpu_ms": cpu_ms}
                     for name, result, cpu_ms in rows],
            "checkout_at_70": None if steady is None else {
                "offered_per_s": steady.offered_per_s, "p99_ms": steady.p99_ms,
                "errors": steady.errors}}, indent=1))
    if steady is not None:
        print(f"\ncheckout at 70% of its peak, open loop ({steady.offered_per_s:.0f}/s offered, "
              f"{steady.completed} sent, {steady.errors} errors): "
              f"p50 {steady.p50_ms:.1f} ms, p99 {steady.p99_ms:.1f} ms")


if __name__ == "__main__":
    main()
