"""A checkout of one product sells by the facts the database holds when its order is written,
whether it read them or remembered them from an earlier checkout of the SKU
(shop/checkout/sale_facts.py): every change to a price, a name, the VAT convention or a
carrier, by the API or straight in the database, is in the next order.

Real parts: the app on PostgreSQL (where checkout remembers) and SQLite (where it reads
every time and must answer the same), a real Redis.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shop.checkout import sale_facts
from shop.taxes.vat import added_vat, rate_for
from tests.shop.test_checkout_integrity import ADDRESS, available, cart_with, post_checkout


def _database(app):
    return app.extensions["peakshop"].database


def _sql(app, statement: str, **parameters) -> None:
    """A change made outside the app (a script, psql, another service)."""
    with _database(app).engine.begin() as connection:
        connection.execute(text(statement), parameters)


def _order(client, api, shop, sku: str, **fields) -> dict:
    response = post_checkout(client, cart_with(api, shop, sku), **fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _remembers(app) -> bool:
    return _database(app).statements.on_libpq


def test_the_second_checkout_of_a_sku_skips_the_read_and_sells_the_same(client, api, shop,
                                                                          app):
    api.add_product(shop, "STAR", price=1500, stock=10)
    carts = [cart_with(api, shop, "STAR") for _ in range(2)]
    statements = _database(app).statements
    sent = []
    for cart_id in carts:
        before = statements.executed
        response = post_checkout(client, cart_id)
        sent.append(statements.executed - before)
        assert response.status_code == 201
        assert response.get_json()["total"] == {"amount": 1500, "currency": "EUR"}
    assert available(client, shop, "STAR") == 8
    if _remembers(app):
        assert len(sale_facts.of(_database(app))) == 1
        # The read, the hold with the order, the paid mark; then the last two alone.
        assert sent == [3, 2]


@pytest.mark.parametrize("change", ["api", "sql"])
def test_a_new_price_is_in_the_next_order(client, api, shop, app, change):
    api.add_product(shop, "STAR", price=1500, stock=10)
    assert _order(client, api, shop, "STAR")["total"]["amount"] == 1500
    if change == "api":
        response = client.patch(f"/api/v1/shops/{shop.slug}/products/STAR", headers=shop.auth,
                                json={"price": 1700})
        assert response.status_code == 200
    else:
        _sql(app, "UPDATE products SET price_amount = 1700 WHERE sku = 'STAR'")
    assert _order(client, api, shop, "STAR")["total"]["amount"] == 1700
    assert _order(client, api, shop, "STAR")["total"]["amount"] == 1700
    assert available(client, shop, "STAR") == 7


def test_a_new_name_is_in_the_next_order(client, api, shop, app):
    api.add_product(shop, "STAR", price=1500, stock=10)
    _order(client, api, shop, "STAR")
    _sql(app, "UPDATE products SET name = 'Golden star' WHERE sku = 'STAR'")
    order = _order(client, api, shop, "STAR")
    with _database(app).engine.connect() as connection:
        name = connection.execute(text("SELECT name FROM order_lines WHERE order_id = :id"),
                                  {"id": order["order_id"]}).scalar_one()
    assert name == "Golden star"


def test_the_vat_convention_is_the_one_the_shop_has_when_the_order_is_written(client, api,
                                                                                shop, app):
    api.add_product(shop, "STAR", price=1000, stock=10)
    gross = _order(client, api, shop, "STAR")
    _sql(app, "UPDATE merchants SET prices_include_vat = false WHERE slug = :slug",
         slug=shop.slug)
    net = _order(client, api, shop, "STAR")
    # Net prices: the destination's VAT is added on top (an address that owes none would
    # show nothing here).
    with_vat = 1000 + added_vat(1000, rate_for(ADDRESS["country"]))
    assert with_vat > 1000
    assert gross["total"]["amount"] == 1000
    assert net["total"]["amount"] == with_vat


def test_a_carrier_added_or_changed_is_in_the_next_order(client, api, shop, app):
    api.add_product(shop, "STAR", price=1000, stock=10)
    assert _order(client, api, shop, "STAR")["total"]["amount"] == 1000  # free standard
    added = client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth, json={
        "name": "Post", "daily_capacity": 100, "transit_days": 2, "origin_country": "FI",
        "domestic_rate": 490, "eu_rate": 990, "world_rate": 2490})
    assert added.status_code == 201
    assert _order(client, api, shop, "STAR")["total"]["amount"] == 1490
    _sql(app, "UPDATE carriers SET domestic_rate = 590")
    assert _order(client, api, shop, "STAR")["total"]["amount"] == 1590
    _sql(app, "UPDATE carriers SET is_down = true")
    assert _order(client, api, shop, "STAR")["total"]["amount"] == 1000


def test_an_archived_product_is_not_sold_however_it_was_remembered(client, api, shop, app):
    api.add_product(shop, "STAR", price=1000, stock=10)
    _order(client, api, shop, "STAR")
    cart_id = cart_with(api, shop, "STAR")
    _sql(app, "UPDATE products SET archived_at = CURRENT_TIMESTAMP WHERE sku = 'STAR'")
    refused = post_checkout(client, cart_id)
    assert 400 <= refused.status_code < 500, refused.get_json()
    assert post_checkout(client, cart_id).status_code == refused.status_code


def test_remembered_facts_never_stretch_the_stock(client, api, shop, app):
    api.add_product(shop, "STAR", price=1000, stock=2)
    _order(client, api, shop, "STAR")
    first, second = cart_with(api, shop, "STAR"), cart_with(api, shop, "STAR")
    assert post_checkout(client, first).status_code == 201
    short = post_checkout(client, second)
    assert short.status_code == 409 and short.get_json()["code"] == "insufficient_stock"
    assert available(client, shop, "STAR") == 0


def test_a_replay_and_a_second_key_answer_as_always_once_facts_are_remembered(client, api,
                                                                               shop, app):
    api.add_product(shop, "STAR", price=1000, stock=10)
    _order(client, api, shop, "STAR")
    cart_id = cart_with(api, shop, "STAR")
    first = post_checkout(client, cart_id, key="k1")
    again = post_checkout(client, cart_id, key="k1")
    other = post_checkout(client, cart_id, key="k2")
    assert first.status_code == 201 and again.status_code in (200, 201)
    assert again.get_json()["order_id"] == first.get_json()["order_id"]
    assert other.status_code == 409
    # A cart not paid yet: a declined first attempt, then the same key again.
    declined_cart = cart_with(api, shop, "STAR")
    declined = post_checkout(client, declined_cart, key="d1", token="tok_declined")
    replayed = post_checkout(client, declined_cart, key="d1", token="tok_declined")
    assert replayed.get_json()["order_id"] == declined.get_json()["order_id"]
    assert available(client, shop, "STAR") == 8


def test_the_memory_keeps_at_most_its_capacity():
    facts = sale_facts.SaleFacts(capacity=3)
    for number in range(5):
        facts.remember(1, f"SKU-{number}", [])
    assert len(facts) == 3
    assert facts.get(1, "SKU-0") is None and facts.get(1, "SKU-4") == []
    facts.forget(1, "SKU-4")
    assert facts.get(1, "SKU-4") is None

