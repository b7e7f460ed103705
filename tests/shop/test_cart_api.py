"""Carts in Redis: lines, live prices, TTL, and the limits of what a cart may hold."""

import pytest
from sqlalchemy import text

# The queue and the carts behave the same on one Redis and on a Redis Cluster.
pytestmark = pytest.mark.redis_topologies


def test_cart_lines_and_total_follow_live_prices(client, api, shop):
    api.add_product(shop, "TEA", price=450, stock=10)
    api.add_product(shop, "POT", price=2000, stock=2)
    cart = api.new_cart(shop)
    api.set_item(cart, "TEA", 3)
    body = api.set_item(cart, "POT", 1).get_json()
    assert body["total"] == {"amount": 3350, "currency": "EUR"}
    client.patch(f"/api/v1/shops/{shop.slug}/products/TEA", headers=shop.auth,
                 json={"price": 500})
    body = client.get(f"/api/v1/carts/{cart}").get_json()
    assert {i["sku"]: i["unit_price"]["amount"] for i in body["items"]} == {"POT": 2000,
                                                                           "TEA": 500}
    assert body["total"]["amount"] == 3500


def test_quantity_zero_removes_the_line(client, api, shop):
    api.add_product(shop, "TEA")
    cart = api.new_cart(shop)
    api.set_item(cart, "TEA", 2)
    body = api.set_item(cart, "TEA", 0).get_json()
    assert body["items"] == [] and body["total"]["amount"] == 0


def test_cart_expires_with_its_ttl(client, api, shop, redis_client):
    api.add_product(shop, "TEA")
    cart = api.new_cart(shop)
    ttl = redis_client.ttl(f"peakshop:cart:{cart}")
    assert 0 < ttl <= 7 * 24 * 3600
    redis_client.delete(f"peakshop:cart:{cart}")
    assert client.get(f"/api/v1/carts/{cart}").status_code == 404


@pytest.mark.parametrize("quantity, status, fragment", [
    (-1, 422, "at least 0"), (101, 422, "at most 100"), ("2", 422, "whole number"),
    (1.5, 422, "whole number"), (None, 422, "whole number"), (True, 422, "whole number"),
    (11, 409, "only 10"),
])
def test_bad_quantities(client, api, shop, quantity, status, fragment):
    api.add_product(shop, "TEA", stock=10)
    cart = api.new_cart(shop)
    response = api.set_item(cart, "TEA", quantity)
    assert response.status_code == status
    assert fragment in response.get_json()["detail"]
    assert client.get(f"/api/v1/carts/{cart}").get_json()["items"] == []


def test_unknown_sku_and_cart_are_404(client, api, shop):
    cart = api.new_cart(shop)
    assert api.set_item(cart, "GHOST", 1).status_code == 404
    assert api.set_item("0" * 32, "GHOST", 1).status_code == 404
    assert client.get("/api/v1/carts/not-a-cart").status_code == 404


def test_a_cart_only_holds_its_own_shops_products(client, api, shop):
    other = api.sign_up("Other")
    api.add_product(other, "THEIRS")
    cart = api.new_cart(shop)
    assert api.set_item(cart, "THEIRS", 1).status_code == 404


def test_removing_what_the_cart_does_not_hold(client, api, shop):
    api.add_product(shop, "TEA")
    api.add_product(shop, "POT")
    cart = api.new_cart(shop)
    api.set_item(cart, "TEA", 2)
    unchanged = api.set_item(cart, "POT", 0)
    assert unchanged.status_code == 200
    assert [item["sku"] for item in unchanged.get_json()["items"]] == ["TEA"]
    unknown = api.set_item(cart, "GHOST", 0)
    assert unknown.status_code == 404
    assert unknown.get_json()["code"] == "unknown_sku"
    assert [i["sku"] for i in client.get(f"/api/v1/carts/{cart}").get_json()["items"]] == ["TEA"]


def test_a_line_of_a_product_no_longer_sold_is_left_out_and_can_be_removed(
        client, api, shop, redis_client):
    """The catalog lost the product behind a line (written straight into the real Redis
    cart, as a discontinued product leaves it): pricing skips it, removing it works."""
    api.add_product(shop, "TEA", price=450)
    cart = api.new_cart(shop)
    redis_client.hset(f"peakshop:cart:{cart}", "item:GONE", 2)
    body = api.set_item(cart, "TEA", 1).get_json()
    assert [(i["sku"], i["quantity"]) for i in body["items"]] == [("TEA", 1)]
    assert body["total"]["amount"] == 450
    removed = api.set_item(cart, "GONE", 0)
    assert removed.status_code == 200
    assert not redis_client.hexists(f"peakshop:cart:{cart}", "item:GONE")


@pytest.mark.parametrize("gross", [True, False])
def test_adding_to_a_cart_reads_its_products_and_the_vat_convention_in_one_statement(
        app, client, api, shop, gross):
    """The hottest write of a peak: the cart's products, their stock and the shop's VAT
    convention come from one query (an archived product is as unknown as a missing one)."""
    from tests.shop.catalog.test_http_cache import counted_statements

    client.patch(f"/api/v1/shops/{shop.slug}/settings", headers=shop.auth,
                 json={"prices_include_vat": gross})
    api.add_product(shop, "TEA", price=450, stock=3)
    api.add_product(shop, "MUG", price=1250, stock=3)
    cart = api.new_cart(shop)
    assert api.set_item(cart, "TEA", 1).status_code == 200
    with counted_statements(app) as statements:
        body = api.set_item(cart, "MUG", 2).get_json()
    assert len(statements) == 1, statements
    assert body["prices_include_vat"] is gross
    assert [(i["sku"], i["quantity"]) for i in body["items"]] == [("MUG", 2), ("TEA", 1)]
    assert body["total"]["amount"] == 450 + 2 * 1250
    assert api.set_item(cart, "MUG", 4).status_code == 409  # 3 on hand
    with app.extensions["peakshop"].database.transaction() as session:
        session.execute(text("UPDATE products SET archived_at = updated_at WHERE sku = 'MUG'"))
    assert api.set_item(cart, "MUG", 1).status_code == 404
    assert api.set_item(cart, "MUG", 0).status_code == 200  # its line can still go


def test_a_cart_that_expires_while_a_line_is_added_is_not_recreated(app, client, api, shop,
                                                                     redis_client):
    """The cart is read, its products looked up, then the line written: a cart whose TTL
    runs out in between answers 404 and stays gone (no shopless hash left behind)."""
    from sqlalchemy import event

    api.add_product(shop, "TEA", stock=5)
    api.add_product(shop, "MUG", stock=5)
    cart = api.new_cart(shop)
    key = f"peakshop:cart:{cart}"
    database = app.extensions["peakshop"].database
    engines = {database.engine, database.read_engine}
    reader = database.statements
    reads_first = reader.first

    def expire_the_cart(*_args):  # runs between the cart's read and the line's write
        redis_client.delete(key)

    def expire_then_read(statement, parameters):
        expire_the_cart()
        return reads_first(statement, parameters)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", expire_the_cart)
    reader.first = expire_then_read
    try:
        lone = api.set_item(cart, "TEA", 2)     # a cart of one SKU: the direct statements
        assert lone.status_code == 404
        assert lone.get_json()["code"] == "unknown_cart"
        assert not redis_client.exists(key)
        redis_client.hset(key, mapping={"_shop": shop.merchant_id, "item:TEA": 1})
        mixed = api.set_item(cart, "MUG", 1)    # two SKUs: through the pool
        assert mixed.status_code == 404
        assert not redis_client.exists(key)
    finally:
        del reader.first
        for engine in engines:
            event.remove(engine, "before_cursor_execute", expire_the_cart)
