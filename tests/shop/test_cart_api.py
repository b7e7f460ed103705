"""Carts in Redis: lines, live prices, TTL, and the limits of what a cart may hold."""

import pytest


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
    (-1, 422, "from 0"), (1001, 422, "to 1000"), ("2", 422, "whole number"),
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
