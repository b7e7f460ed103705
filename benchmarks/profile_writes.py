"""Where add to cart's and checkout's CPU goes, by area of the code: ours or the layers'.

    python -m benchmarks.profile_writes [--database sqlite|postgresql] [--requests 800]
                                        [--request add|checkout] [--top 30]
    python -m benchmarks.profile_writes --steps [--database ...] [--rounds 3]

Flask's test client on a real database and Redis (benchmarks.inprocess). For the request
kind chosen, a first run without the profiler gives the CPU milliseconds per request; a
second run under cProfile (CPU time, not wall time: waiting for PostgreSQL or Redis is their
cost) splits that time two ways:

- by area, each function's own time given to the package it is in: the write path's
  domains (shop/cart, shop/checkout, shop/orders, shop/payments, ...), the per-request
  layers every request pays (shop/core, shop/app.py, shop/waiting_room, shop/edge), and the
  libraries (SQLAlchemy, psycopg, redis-py, Flask/Werkzeug, spectree/pydantic, json);
- by the write path's own steps, each one's inclusive time (its calls into libraries
  included), so that a step's cost reads in milliseconds per request.

The shares are of the profiled run, whose absolute figures the profiler inflates; the
first line's CPU ms per request is the unprofiled cost.

With --steps, each step taken on the write path is timed against the way it was done before,
both in this process, alternating, best of --rounds rounds (CPU ms per call): a step's gain
is then told apart from the machine's other load, which moves whole-request figures by more
than one step saves.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from collections.abc import Callable

from benchmarks.checkout_profile import CHECKOUT_BODY, Counted, filled_carts, measure
from benchmarks.inprocess import BenchShop, bench_shop
from shop.cart import service as cart_service
from shop.checkout import service as checkout_service
from shop.checkout import statements
from shop.orders import service as order_service
from shop.status import slo_batch

# First match wins: a path fragment -> the area its functions' own time counts for.
AREAS = (
    ("/shop/cart/", "cart (ours)"),
    ("/shop/checkout/", "checkout (ours)"),
    ("/shop/orders/", "orders (ours)"),
    ("/shop/payments/", "payments (ours)"),
    ("/shop/fulfilment/", "fulfilment (ours)"),
    ("/shop/taxes/", "taxes (ours)"),
    ("/shop/catalog/", "catalog"),
    ("/shop/core/", "per-request layers: shop/core"),
    ("/shop/app.py", "per-request layers: shop/app.py"),
    ("/shop/waiting_room/", "per-request layers: waiting room"),
    ("/shop/edge/", "per-request layers: edge"),
    ("/shop/status/", "per-request layers: SLO counting"),
    ("/shop/", "shop, other"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/psycopg", "psycopg"),
    ("/redis/", "redis-py"),
    ("/hiredis", "redis-py"),
    ("/flask/", "Flask/Werkzeug"),
    ("/werkzeug/", "Flask/Werkzeug"),
    ("/spectree/", "spectree/pydantic"),
    ("/pydantic", "spectree/pydantic"),
    ("/json/", "json"),
    ("/prometheus_client/", "prometheus-client"),
    ("/flask_limiter/", "Flask-Limiter"),
    ("/limits/", "Flask-Limiter"),
)

# The write path's own steps: (file fragment, function) -> the label reported.
STEPS = {
    "add": (
        ("shop/cart/api.py", "set_item", "view: set_item (all of the domain's work)"),
        ("shop/cart/service.py", "set_quantity", "service: set_quantity"),
        ("shop/cart/service.py", "load_cart", "  the cart's read (Redis)"),
        ("shop/cart/service.py", "cart_products", "  the products and VAT convention (SQL)"),
        ("shop/cart/service.py", "_write_line", "  the line's write (Redis)"),
        ("shop/cart/api.py", "cart_json", "view: the cart as JSON"),
        ("shop/cart/service.py", "parse_quantity", "view: the quantity's check"),
    ),
    "checkout": (
        ("shop/checkout/api.py", "checkout", "view: checkout (all of the domain's work)"),
        ("shop/checkout/request.py", "parse_request", "  the body's checks"),
        ("shop/checkout/service.py", "checkout", "service: checkout"),
        ("shop/cart/service.py", "load_cart", "  the cart's read (Redis)"),
        ("shop/checkout/service.py", "_reserve", "  reserve (transaction 1)"),
        ("shop/checkout/service.py", "_earlier_orders", "    earlier orders (SQL)"),
        ("shop/cart/service.py", "price_lines", "    the cart's products (SQL, ORM)"),
        ("shop/cart/service.py", "price_rows", "    the cart's products (SQL, Core)"),
        ("shop/checkout/pricing.py", "price_order", "    shipping and VAT"),
        ("shop/checkout/service.py", "_hold_stock", "    the stock's holds (SQL)"),
        ("shop/checkout/service.py", "_pay", "  pay and settle"),
        ("shop/payments/dummy.py", "charge", "    the gateway (dummy ledger, Redis)"),
        ("shop/checkout/service.py", "_settle", "    settle (transaction 2)"),
        ("shop/checkout/service.py", "_tidy_up", "  the cart's DEL and the stream (Redis)"),
        ("shop/orders/service.py", "access_token", "view: the order's access token"),
    ),
}


def area_of(filename: str) -> str:
    for fragment, area in AREAS:
        if fragment in filename:
            return area
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return "other (stdlib, other libraries)"


def breakdown(stats: pstats.Stats, kind: str, requests: int) -> None:
    raw = stats.stats  # (file, line, name) -> (primitive calls, calls, own, inclusive, callers)
    total = sum(own for _c, _n, own, _i, _callers in raw.values())
    by_area: dict[str, float] = {}
    for (filename, _line, _name), (_c, _n, own, _i, _callers) in raw.items():
        area = area_of(filename)
        by_area[area] = by_area.get(area, 0.0) + own
    print(f"\nown time by area ({total * 1000 / requests:.2f} ms per request profiled)")
    for area, seconds in sorted(by_area.items(), key=lambda item: -item[1]):
        print(f"  {area:40}{seconds * 1000 / requests:7.3f} ms {seconds / total:6.1%}")
    print("\nthe write path's steps, inclusive")
    for fragment, function, label in STEPS[kind]:
        inclusive = sum(entry[3] for (filename, _line, name), entry in raw.items()
                        if filename.endswith(fragment) and name == function)
        print(f"  {label:50}{inclusive * 1000 / requests:7.3f} ms {inclusive / total:6.1%}")


def _write_line_before(client, cart_id: str, sku: str, quantity: int, ttl_s: int):
    """The cart's line as it was written before: MULTI, HSET, EXPIRE, HGETALL, EXEC."""
    key = cart_service.KEY_PREFIX + cart_id
    with client.pipeline() as pipe:
        pipe.hset(key, cart_service.ITEM_PREFIX + sku, quantity)
        pipe.expire(key, ttl_s)
        pipe.hgetall(key)
        return cart_service._cart_from(cart_id, pipe.execute()[-1])


def _wsgi_put(shop: BenchShop, cart_id: str, query: str) -> Callable[[], object]:
    """One add to cart through the app's WSGI entry, as gunicorn calls it (no test client)."""
    from benchmarks.profile_layers import call, environ_for

    make_environ = environ_for("PUT", f"/api/v1/carts/{cart_id}/items/BENCH{query}",
                               body=b'{"quantity": 2}')

    def put() -> None:
        assert call(shop.app, make_environ()).startswith("200")

    return put


def _wsgi_checkouts(shop: BenchShop, count: int, query: str) -> Callable[[], object]:
    """Checkouts of `count` fresh carts through the app's WSGI entry, one cart per call."""
    import json

    from benchmarks.profile_layers import call, environ_for

    body = json.dumps(CHECKOUT_BODY).encode()
    environs = iter([environ_for("POST", f"/api/v1/carts/{cart_id}/checkout{query}",
                                 body=body) for cart_id in filled_carts(shop, count)])

    def check_out() -> None:
        assert call(shop.app, next(environs)()).startswith("201")

    return check_out


def _pending_orders(shop: BenchShop, count: int) -> list[str]:
    """Checkouts left pending (the declining token), put back to pending_payment so that
    each can be marked paid once."""
    body = {**CHECKOUT_BODY, "payment": {"gateway": "dummy", "token": "tok_declined"}}
    ids = []
    for cart_id in filled_carts(shop, count):
        ids.append(shop.client.post(f"/api/v1/carts/{cart_id}/checkout",
                                    json=body).get_json()["order_id"])
    database = shop.app.extensions["peakshop"].database
    with database.transaction() as session:
        session.execute(order_service.Order.__table__.update()
                        .where(order_service.Order.__table__.c.id.in_(ids))
                        .values(status="pending_payment", cart_claim=None))
    return ids


def steps(shop: BenchShop, rounds: int, calls: int) -> None:
    """Each step against the way before it, alternating, best of `rounds` (CPU ms/call)."""
    current = shop.app.extensions["peakshop"]
    database, client = current.database, current.redis
    cart_id = filled_carts(shop, 1)[0]
    cart = cart_service.load_cart(client, cart_id)
    ttl = current.settings.cart_ttl_s

    def in_transaction_orm():
        with database.transaction() as session:
            cart_service.price_lines(session, cart)

    def in_transaction_core_rows():
        with database.transaction() as session:
            cart_service.price_rows(session.connection(), cart)

    def core_transaction_core_rows():
        with database.engine.begin() as connection:
            cart_service.price_rows(connection, cart)

    def products_through_pool():
        with database.read_connection() as connection:
            cart_service.cart_products(connection, shop.merchant_id, ["BENCH"])

    def products_on_reader():
        cart_service._products_of(database, shop.merchant_id, {"BENCH"})

    pending = iter(_pending_orders(shop, calls * rounds * 2))

    def paid_in_transaction():
        with database.transaction() as session:
            order_service.mark_paid(session, next(pending), "ref", sent_by_caller=True)

    def paid_in_autocommit():
        checkout_service._mark_paid(database, next(pending), "ref", order_service.utcnow())

    product = cart_service._products_of(database, shop.merchant_id, {"BENCH"})[0]["BENCH"]

    def new_order() -> tuple[dict, list[dict]]:
        now, order_id = order_service.utcnow(), os.urandom(16).hex()
        columns = dict(
            id=order_id, merchant_id=shop.merchant_id, cart_id=order_id, cart_claim=order_id,
            idempotency_key=None, request_fingerprint=None, email="bench@example.com",
            shipping_address=CHECKOUT_BODY["shipping_address"], status="pending_payment",
            total_amount=1299, shipping_amount=0, tax_amount=0, prices_include_vat=True,
            shipping_option="standard", shipping_carrier="Standard",
            shipping_promised_date=None, currency="EUR", payment_gateway="dummy",
            reservation_expires_at=now, created_at=now, updated_at=now)
        return columns, [dict(order_id=order_id, product_id=product.id, sku="BENCH",
                              name="Benchmark bauble", quantity=1, unit_price_amount=1299,
                              reservation="released")]

    def order_in_two_inserts():
        columns, lines = new_order()
        with database.engine.begin() as connection:
            connection.execute(statements.INSERT_ORDER, columns)
            connection.execute(statements.INSERT_ORDER_LINES, lines)

    def order_in_one_statement():
        columns, lines = new_order()
        with database.engine.begin() as connection:
            checkout_service._insert_order(connection, columns, lines)

    def read_through_pool():
        cart_service._cart_from(cart_id, client.hgetall(cart_service.KEY_PREFIX + cart_id))

    def read_on_own_connection():
        cart_service.load_cart(client, cart_id)

    def script_through_pool():
        cart_service._WRITE_LINE_SCRIPT(
            keys=[cart_service.KEY_PREFIX + cart_id],
            args=[cart_service.ITEM_PREFIX + "BENCH", 2, ttl], client=client)

    def script_on_own_connection():
        cart_service._write_line(client, cart_id, "BENCH", 2, ttl)

    add_plain = _wsgi_put(shop, cart_id, "")
    add_through_flask = _wsgi_put(shop, cart_id, "?via=flask")  # a query: Flask answers

    checkouts_plain = _wsgi_checkouts(shop, calls * rounds, "")
    checkouts_through_flask = _wsgi_checkouts(shop, calls * rounds, "?via=flask")

    pairs: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("add to cart: the whole request (WSGI), Flask -> answered before Flask",
         add_through_flask, add_plain),
        ("checkout: the whole request (WSGI), Flask -> answered before Flask",
         checkouts_through_flask, checkouts_plain),
        ("add to cart: the cart's read, pooled client -> the thread's own connection",
         read_through_pool, read_on_own_connection),
        ("add to cart: the line's script, pooled client -> the thread's own connection",
         script_through_pool, script_on_own_connection),
        ("checkout: the order and its line, two INSERTs -> one (PostgreSQL)",
         order_in_two_inserts, order_in_one_statement),
        ("add to cart: the line's write, MULTI (5 commands) -> one Lua script",
         lambda: _write_line_before(client, cart_id, "BENCH", 2, ttl),
         lambda: cart_service._write_line(client, cart_id, "BENCH", 2, ttl)),
        ("add to cart: a one-SKU cart's products, pooled Core -> statement reader",
         products_through_pool, products_on_reader),
        ("checkout: the cart's products, ORM entities -> Core rows",
         in_transaction_orm, in_transaction_core_rows),
        ("checkout: the reservation, ORM session -> Core transaction",
         in_transaction_core_rows, core_transaction_core_rows),
        ("checkout: the paid order, a transaction -> autocommit (PostgreSQL)",
         paid_in_transaction, paid_in_autocommit),
    ]
    print(f"step (best of {rounds} rounds of {calls} calls, CPU ms per call)"
          f"{'before':>12}{'after':>9}{'gain':>9}")
    for label, before, after in pairs:
        best = {"before": float("inf"), "after": float("inf")}
        for _ in range(rounds):
            for name, call in (("before", before), ("after", after)):
                started = time.process_time()
                for _ in range(calls):
                    call()
                best[name] = min(best[name], (time.process_time() - started) * 1000 / calls)
        print(f"{label:72}{best['before']:9.3f}{best['after']:9.3f}"
              f"{best['before'] - best['after']:9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--request", choices=sorted(STEPS), default="checkout")
    parser.add_argument("--top", type=int, default=30,
                        help="also print this many functions by own time (0: none)")
    parser.add_argument("--steps", action="store_true",
                        help="time each step against the way before it instead")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with bench_shop(args.database, "profile") as shop:
        created = shop.client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                                   json={"sku": "BENCH", "name": "Benchmark bauble",
                                         "price": 1299, "stock": 100_000_000})
        assert created.status_code == 201, created.get_data()
        if args.steps:
            for cart_id in filled_carts(shop, 50):  # connections and statements settle
                shop.client.post(f"/api/v1/carts/{cart_id}/checkout", json=CHECKOUT_BODY)
            steps(shop, args.rounds, min(args.requests, 400))
            slo_batch.flush_all()
            return
        counted = Counted(shop)
        for cart_id in filled_carts(shop, 50):  # connections, caches, statements settle
            shop.client.put(f"/api/v1/carts/{cart_id}/items/BENCH", json={"quantity": 2})
            shop.client.post(f"/api/v1/carts/{cart_id}/checkout", json=CHECKOUT_BODY)

        def run(profile: cProfile.Profile | None) -> dict:
            if args.request == "add":
                carts = filled_carts(shop, 200)
                return measure(shop, counted, "add to cart", args.requests,
                               lambda i: shop.client.put(
                                   f"/api/v1/carts/{carts[i % 200]}/items/BENCH",
                                   json={"quantity": i % 3 + 1}), profile)
            carts = filled_carts(shop, args.requests)
            return measure(shop, counted, "checkout", args.requests,
                           lambda i: shop.client.post(f"/api/v1/carts/{carts[i]}/checkout",
                                                      json=CHECKOUT_BODY), profile)

        plain = run(None)
        profile = cProfile.Profile(time.process_time)
        run(profile)
        slo_batch.flush_all()  # while Redis still runs
    print(f"in-process, {args.database}, {args.requests} requests: {plain['request']} "
          f"{plain['cpu_ms']:.2f} CPU ms per request unprofiled, {plain['sql']:.1f} SQL "
          f"statements, {plain['transactions']:.1f} BEGINs, {plain['redis']:.1f} Redis commands")
    stats = pstats.Stats(profile)
    breakdown(stats, args.request, args.requests)
    if args.top:
        print()
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
