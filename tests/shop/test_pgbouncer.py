"""The storefront through PgBouncer in transaction pooling mode, as production runs it.

Debian's PgBouncer (a real server) sits in front of the suite's PostgreSQL with fewer server
connections than the app has clients, so consecutive transactions of one app connection land
on different server connections: what breaks there (prepared statements, session state) breaks
here too.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import sqlalchemy
from sqlalchemy import text

from shop import create_app
from shop.core.db import make_engine
from shop.core.migrate import upgrade
from tests.support.api import ShopApi
from tests.support.servers import PgBouncer

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pgbouncer(postgres_server):
    bouncer = PgBouncer.start(postgres_server, pool_size=2)
    yield bouncer
    bouncer.stop()


@pytest.fixture
def pooled_database(postgres_server, pgbouncer, request):
    name = "through_pgbouncer_" + str(abs(hash(request.node.nodeid)) % 10**8)
    postgres_server.create_database(name)
    return pgbouncer, name


def test_pods_migrate_at_once_through_the_pooler(pooled_database):
    """The migration lock is transaction-scoped, so it holds through transaction pooling."""
    bouncer, name = pooled_database
    failures = []

    def migrate():
        try:
            upgrade(bouncer.url(name))
        except Exception as problem:  # collected and reported below
            failures.append(problem)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_shoppers_check_out_through_the_pooler(pooled_database, redis_server, redis_client,
                                               tmp_path):
    """Many transactions on few server connections: sign-up, catalog, carts, racing
    checkouts; every query runs far past psycopg's prepare threshold."""
    bouncer, name = pooled_database
    upgrade(bouncer.url(name))
    app = create_app({"database_url": bouncer.url(name), "redis_url": redis_server.url,
                      "secret_key": "test-secret", "instance_path": str(tmp_path),
                      "log_json": False, "testing": True})
    try:
        api = ShopApi(app.test_client())
        shop = api.sign_up("Pooled")
        api.add_product(shop, "STAR", stock=10)
        carts = []
        for _ in range(30):
            cart = api.new_cart(shop)
            assert api.set_item(cart, "STAR", 1).status_code == 200
            carts.append(cart)
        start = threading.Barrier(len(carts))

        def check_out(cart_id: str) -> int:
            client = app.test_client()
            start.wait()
            return ShopApi(client).checkout(cart_id, key=f"k-{cart_id}").status_code

        with ThreadPoolExecutor(len(carts)) as pool:
            statuses = list(pool.map(check_out, carts))
        assert statuses.count(201) == 10 and statuses.count(409) == 20, statuses
        product = app.test_client().get(f"/api/v1/shops/{shop.slug}/products/STAR").get_json()
        assert product["available"] == 0
    finally:
        app.extensions["peakshop"].database.dispose()
        app.extensions["peakshop"].redis.close()


def test_without_the_flag_prepared_statements_break_behind_the_pooler(pooled_database):
    """The control: psycopg prepares a statement after a few runs, and behind transaction
    pooling the next transaction may reach a server connection that never saw it — which is
    what `?pgbouncer=true` turns off."""
    bouncer, name = pooled_database
    engines = [make_engine(bouncer.url(name, flagged=flagged)) for flagged in (False, True)]
    outcomes = []
    for engine in engines:
        failed = False
        connections = [engine.connect() for _ in range(3)]  # more clients than server conns
        try:
            for _ in range(10):
                for connection in connections:
                    try:
                        connection.execute(text("SELECT 1 WHERE 1 = :one"), {"one": 1})
                        connection.commit()
                    except (sqlalchemy.exc.DBAPIError, psycopg.Error):
                        failed = True
                        connection.rollback()
        finally:
            for connection in connections:
                connection.close()
            engine.dispose()
        outcomes.append(failed)
    assert outcomes == [True, False]
