"""The direct statements: the catalog's freshness facts read on per-thread connections of
their own, outside SQLAlchemy's pool. Live across processes, replaced when broken, answered
as a 503 when the database is down, and safe across gunicorn's fork."""

from __future__ import annotations

import os

import pytest
import requests

from shop.catalog.freshness import product_facts
from shop.core.direct_statements import DirectStatements
from shop.core.timeutil import utcnow
from tests.support import catalog_cache

# Revalidations read the facts afresh every time here, as full answers always do.
settings_overrides = catalog_cache.settings_overrides


def _product(base: str, slug: str, sku: str) -> dict:
    response = requests.get(f"{base}/api/v1/shops/{slug}/products/{sku}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_change_made_through_one_worker_is_seen_by_the_next_read_of_every_other(
        gunicorn_server):
    """Two gunicorn workers (separate processes, forked after the app was built), each
    with its own reader connections and its own rendered memo: after a price change every
    read, whichever worker answers it, shows the new price and a new entity tag. (A
    revalidation may still be judged on the facts a worker remembered for up to
    PEAKSHOP_CATALOG_REVALIDATION_MEMO_MS: docs/http-caching.md.)"""
    base = gunicorn_server.url
    merchant = requests.post(f"{base}/api/v1/merchants", json={
        "name": "Glass Works", "email": "glass@example.com", "password": "long enough"},
        timeout=10).json()
    slug, auth = merchant["merchant"]["slug"], {"Authorization": f"Bearer {merchant['token']}"}
    assert requests.post(f"{base}/api/v1/shops/{slug}/products", headers=auth, json={
        "sku": "BAUBLE", "name": "Bauble", "price": 1200, "stock": 9},
        timeout=10).status_code == 201
    # Warm both workers (16 threads over 2 workers: both answer some of these).
    before = {requests.get(f"{base}/api/v1/shops/{slug}/products/BAUBLE",
                           timeout=10).headers["ETag"] for _ in range(40)}
    assert len(before) == 1
    changed = requests.patch(f"{base}/api/v1/shops/{slug}/products/BAUBLE", headers=auth,
                             json={"price": 1500}, timeout=10)
    assert changed.status_code == 200, changed.text
    for _ in range(40):
        response = requests.get(f"{base}/api/v1/shops/{slug}/products/BAUBLE", timeout=10)
        assert response.json()["price"]["amount"] == 1500
        assert response.headers["ETag"] not in before


def test_a_change_made_through_another_app_is_seen_by_the_next_read(app, client, api, shop,
                                                                     make_app):
    """Another app (its own engines and reader connections, as another pod has)."""
    api.add_product(shop, "MUG", price=1250, stock=5)
    url = f"/api/v1/shops/{shop.slug}/products/MUG"
    first = client.get(url)
    assert client.get(url).data == first.data  # given again (the rendered memo)
    other = make_app().test_client()
    assert other.patch(url, headers=shop.auth, json={"stock": 2}).status_code == 200
    after = client.get(url)
    assert after.get_json()["available"] == 2
    assert after.headers["ETag"] != first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_a_connection_the_server_ended_is_replaced_and_the_shopper_never_sees_it(
        app, client, api, shop, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("ending another session is PostgreSQL's pg_terminate_backend")
    api.add_product(shop, "MUG", price=1250, stock=5)
    url = f"/api/v1/shops/{shop.slug}/products/MUG"
    assert client.get(url).status_code == 200
    reader = app.extensions["peakshop"].database.statements
    (ended,) = [connection.info.backend_pid for connection in reader._connections.values()]
    with app.extensions["peakshop"].database.engine.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({ended})")
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["available"] == 5
    (replacement,) = [connection.info.backend_pid for connection in reader._connections.values()]
    assert replacement != ended


def test_the_database_down_is_a_503_problem_not_a_500(make_app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file cannot be down")
    from tests.support.servers import free_port

    gone = f"postgresql+psycopg://peakshop@127.0.0.1:{free_port()}/nowhere"
    client = make_app(database_url=gone).test_client()
    for url in ("/api/v1/shops/any/products/MUG", "/api/v1/shops/any/products",
                "/shops/any/products/MUG"):
        response = client.get(url)
        assert response.status_code == 503, (url, response.get_data(as_text=True))
        if url.startswith("/api/"):
            assert response.mimetype == "application/problem+json"


def test_hostile_skus_are_answered_and_the_connection_kept(app, client, api, shop):
    """A SKU PostgreSQL cannot store (a NUL byte) is refused with a 4xx, and refusing it
    does not cost the reader its connection (an attacker cannot make it reconnect)."""
    api.add_product(shop, "MUG", price=1250, stock=5)
    assert client.get(f"/api/v1/shops/{shop.slug}/products/MUG").status_code == 200
    reader = app.extensions["peakshop"].database.statements
    kept = list(reader._connections.values())
    for sku in ("NUL%00BYTE", "%F0%9F%8E%84", "x" * 3000, "' OR 1=1 --"):
        response = client.get(f"/api/v1/shops/{shop.slug}/products/{sku}")
        assert 400 <= response.status_code < 500, (sku, response.status_code)
    assert list(reader._connections.values()) == kept


def test_a_forked_child_reads_on_its_own_connection_and_leaves_the_parents_alone(
        app, api, shop, database_url):
    api.add_product(shop, "MUG", price=1250, stock=5)
    reader: DirectStatements = app.extensions["peakshop"].database.statements
    facts = product_facts(reader, shop.slug, "MUG")
    assert facts is not None and facts.available_total == 5
    (inherited,) = reader._connections.values()
    child = os.fork()
    if child == 0:  # the child: exit status says what it found
        try:
            app.extensions["peakshop"].database.forget_inherited_connections()
            seen = product_facts(reader, shop.slug, "MUG")
            (own,) = reader._connections.values()
            os._exit(0 if seen == facts and own is not inherited else 1)
        except BaseException:  # noqa: BLE001 (any failure is the child's answer)
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's connection still works: the child neither used nor closed it.
    assert product_facts(reader, shop.slug, "MUG") == facts
    assert list(reader._connections.values()) == [inherited]


def test_each_statement_gets_its_own_sql_even_when_built_anew(app, api, shop):
    """Statements built per call (and freed) never borrow another's compiled SQL; a read
    that finds nothing is None; result types are SQLAlchemy's (a datetime on SQLite too)."""
    from datetime import datetime

    from sqlalchemy import bindparam, func, select

    from shop.catalog.models import Product

    api.add_product(shop, "MUG", price=1250, stock=5)
    api.add_product(shop, "TEA", price=450, stock=2)
    reader = app.extensions["peakshop"].database.statements
    products = Product.__table__
    for _ in range(3):
        for sku, price in (("MUG", 1250), ("TEA", 450)):
            by_sku = select(products.c.price_amount, products.c.updated_at).where(
                products.c.sku == bindparam("sku"))
            amount, updated = reader.first(by_sku, {"sku": sku})
            assert amount == price and isinstance(updated, datetime)
            stock = select(products.c.stock - products.c.reserved).where(
                products.c.sku == bindparam("sku"))
            assert reader.first(stock, {"sku": sku}) == ({"MUG": 5, "TEA": 2}[sku],)
    assert reader.first(select(products.c.id).where(products.c.sku == bindparam("sku")),
                        {"sku": "NONE"}) is None
    assert reader.first(select(func.count(products.c.id)), {}) == (2,)


def test_a_write_is_one_statement_of_its_own_and_refusals_come_out_as_sqlalchemys(
        app, api, shop, database_url):
    """On PostgreSQL the direct statements run writes too (checkout's hold-and-order, its
    paid mark): autocommit, so a write is committed the moment it returns, and a unique
    index's refusal is SQLAlchemy's IntegrityError, as checkout's race handling expects."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's direct connections only read")
    import sqlalchemy.exc
    from sqlalchemy import bindparam, insert, select

    from shop.catalog.models import Product

    api.add_product(shop, "MUG", price=1250, stock=5)
    database = app.extensions["peakshop"].database
    products = Product.__table__
    with database.reading() as session:
        mug = session.scalar(select(products.c.id).where(products.c.sku == "MUG"))
    write = (products.update().where(products.c.id == bindparam("b_id"))
             .values(stock=bindparam("b_stock"), updated_at=bindparam("b_now"))
             .returning(products.c.stock))
    assert database.statements.first(write, {"b_id": mug, "b_stock": 7,
                                             "b_now": utcnow()}) == (7,)
    with database.reading() as session:  # another connection sees it: committed
        assert session.scalar(select(products.c.stock).where(products.c.id == mug)) == 7
    copy = (insert(products).from_select(
        [name for name in products.c.keys() if name != "id"],
        select(*(products.c[name] for name in products.c.keys() if name != "id"))
        .where(products.c.id == bindparam("b_id"))).returning(products.c.id))
    with pytest.raises(sqlalchemy.exc.IntegrityError):  # the same SKU twice in a shop
        database.statements.first(copy, {"b_id": mug})
    # A write that leaves a value to SQLAlchemy's per-execution defaults is refused whole.
    with pytest.raises(ValueError, match="every value it writes"):
        database.statements.first(products.update().where(products.c.id == mug)
                                  .values(stock=1).returning(products.c.id), {})
    assert database.statements.first(select(products.c.stock)
                                     .where(products.c.id == bindparam("b_id")),
                                     {"b_id": mug}) == (7,)


def test_a_server_that_dies_mid_statement_is_a_lost_connection_not_a_bug(app, database_url):
    """libpq reports it as a plain DatabaseError; it is an OperationalError (answered 503,
    retried by checkout's settle), and the next statement runs on a new connection."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no server to die")
    import sqlalchemy.exc
    from sqlalchemy import func, select

    statements = app.extensions["peakshop"].database.statements
    with pytest.raises(sqlalchemy.exc.OperationalError):
        statements.first(select(func.pg_terminate_backend(func.pg_backend_pid())), {})
    assert statements.first(select(func.pg_backend_pid()), {}) is not None
