"""The locustfile, headless for a few seconds against the storefront under gunicorn.

Real HTTP on loopback, real Redis and database, the shop seeded through the JSON API. A run
passes only when Locust reports no failure at all: the outcomes a shopper should expect (a
declined card, a sold-out launch product) must be classified as successes by the locustfile.
"""

from __future__ import annotations

import re

import pytest
import requests

from loadtests.seed import LAUNCH_SKU, RESTOCK_UNITS, seed_demo_shop
from tests.loadtests.conftest import run_locust, start_storefront, stop_storefront

FUNNEL = {
    "GET /api/v1/shops/[slug]/products", "GET /api/v1/shops/[slug]/products?q=[word]",
    "GET /api/v1/shops/[slug]/products?category=[category]",
    "GET /api/v1/shops/[slug]/products/[sku]", "POST /api/v1/shops/[slug]/carts",
    "PUT /api/v1/carts/[cart_id]/items/[sku]", "GET /api/v1/carts/[cart_id]",
    "POST /api/v1/carts/[cart_id]/checkout", "GET /api/v1/orders/[order_id]",
}
MERCHANT = {"PATCH /api/v1/shops/[slug]/products/[sku]",
            "GET /api/v1/shops/[slug]/orders?status=paid"}


def assert_clean(run) -> None:
    assert run.returncode == 0, run.output[-3000:]
    failures = {name: row["Failure Count"] for name, row in run.stats.items()
                if row["Failure Count"] != "0"}
    assert failures == {}, run.output[-3000:]
    assert run.totals["failures"] == 0
    assert run.totals["visits_failed"] == 0


def test_both_personas_replay_a_trace_without_a_failure(storefront, tmp_path):
    """The demo shop is seeded on test start; 30 visits/s for 8 s with the merchant at work."""
    run = run_locust(storefront.url, tmp_path / "run", "--trace", "steady", "--scale", "3",
                     "--run-time", "8s", "--pacing", "2")
    assert_clean(run)
    assert "seeded demo shop" in run.output
    assert FUNNEL <= set(run.stats), sorted(run.stats)
    assert MERCHANT & set(run.stats), sorted(run.stats)   # the merchant was at work too
    assert run.totals["visits_ok"] >= 100
    assert run.totals["orders_paid"] == len(run.orders) >= 1
    assert max(row["target_rps"] or 0 for row in run.rows) == pytest.approx(30)
    order = run.orders[0]
    answer = requests.get(f"{storefront.url}/api/v1/orders/{order['order_id']}", timeout=10,
                          headers={"Authorization": f"Bearer {order['access_token']}"})
    assert answer.json()["status"] in ("paid", "confirmed")


@pytest.fixture
def sqlite_storefront(sqlite_template, redis_server, redis_client, tmp_path):
    import shutil

    database = tmp_path / "peakshop.sqlite3"
    shutil.copy(sqlite_template, database)
    server = start_storefront(f"sqlite:///{database}", redis_server.url, tmp_path / "instance")
    yield server
    stop_storefront(server)


def test_declined_cards_and_sold_out_products_are_not_failures(sqlite_storefront, tmp_path):
    """Only purchases, a third declined, for a launch product with 2 units: both expected
    outcomes happen, and neither counts as a failure."""
    shop = seed_demo_shop(sqlite_storefront.url, products=6, launch_stock=2)
    run = run_locust(sqlite_storefront.url, tmp_path / "run", "ShopperUser", "--tags", "buy",
                     "-u", "30", "-r", "30", "--pacing", "1", "--run-time", "6s",
                     "--decline-share", "0.3", env={"LOCUST_SHOP": shop.slug})
    assert_clean(run)
    assert run.totals["payments_declined"] >= 1
    assert run.totals["sold_out"] >= 1
    assert run.totals["orders_paid"] >= 1
    launch = requests.get(f"{sqlite_storefront.url}/api/v1/shops/{shop.slug}/products/"
                          f"{LAUNCH_SKU}", timeout=10).json()
    assert launch["available"] == 0


def test_the_merchant_restocks_the_launch_product(sqlite_storefront, tmp_path):
    """Only the merchant's restock task: each adds a batch on top of the stock on hand."""
    shop = seed_demo_shop(sqlite_storefront.url, products=6, launch_stock=5)
    run = run_locust(sqlite_storefront.url, tmp_path / "run", "MerchantUser", "--tags",
                     "restock", "-u", "1", "-r", "1", "--run-time", "5s",
                     env={"LOCUST_SHOP": shop.slug, "LOCUST_MERCHANT_TOKEN": shop.merchant_token})
    assert_clean(run)
    patches = int(run.stats["PATCH /api/v1/shops/[slug]/products/[sku]"]["Request Count"])
    assert patches >= 2 and patches % 2 == 0            # read the stock, then add the batch
    launch = requests.get(f"{sqlite_storefront.url}/api/v1/shops/{shop.slug}/products/"
                          f"{LAUNCH_SKU}", timeout=10).json()
    assert launch["available"] == 5 + RESTOCK_UNITS * patches // 2


def test_unexpected_answers_fail_the_run(sqlite_storefront, tmp_path):
    """A merchant token that does not open the shop: every request the merchant makes (a
    PATCH or the orders list, whichever its tasks picked) is a 401, and Locust exits 1."""
    shop = seed_demo_shop(sqlite_storefront.url, products=6)
    run = run_locust(sqlite_storefront.url, tmp_path / "run", "MerchantUser",
                     "-u", "1", "-r", "1", "--run-time", "6s",
                     env={"LOCUST_SHOP": shop.slug, "LOCUST_MERCHANT_TOKEN": "psk_not-a-token"})
    assert run.returncode == 1, run.output[-3000:]
    rows = list(run.stats.values())   # every kind of request, and their aggregate
    assert rows and all(int(row["Failure Count"]) == int(row["Request Count"]) for row in rows)
    assert sum(int(row["Request Count"]) for row in rows) >= 2, run.stats


def test_a_shop_that_does_not_exist_stops_locust_with_status_2(sqlite_storefront, tmp_path):
    run = run_locust(sqlite_storefront.url, tmp_path / "run", "-u", "2", "--run-time", "20s",
                     env={"LOCUST_SHOP": "no-such-shop"})
    assert run.returncode == 2, run.output[-3000:]
    assert "cannot prepare the shop" in run.output
    assert "404" in run.output


def test_a_bad_trace_stops_locust_with_one_line(tmp_path):
    run = run_locust("http://127.0.0.1:9", tmp_path / "run", "--trace",
                     str(tmp_path / "missing.csv"))
    assert run.returncode == 2
    assert "neither a file nor one of christmas-week" in run.output
    assert "Traceback" not in run.output


def test_a_distributed_swarm_shares_one_shop_and_one_timeline(sqlite_storefront, tmp_path):
    """A master with two worker processes (`--processes 2`): the master seeds the shop and
    hands it to the workers, whose tallies it merges into its timeline."""
    run = run_locust(sqlite_storefront.url, tmp_path / "run", "--processes", "2",
                     "--trace", "steady", "--scale", "2", "--pacing", "2", "--run-time", "10s")
    assert_clean(run)
    assert run.output.count("seeded demo shop") == 1
    assert run.totals["visits_ok"] >= 60
    # Every request Locust's final table counts is in the master's timeline too.
    printed = re.search(r"^\s+Aggregated\s+(\d+)\s", run.output, re.MULTILINE)
    assert run.totals["requests"] == int(printed.group(1))
