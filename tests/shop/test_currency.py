"""A shop sells in one ISO 4217 currency; an order is never paid in two."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from shop.catalog.models import Product
from shop.core.errors import InvalidInput
from shop.core.validation import currency_code, money
from shop.payments.dummy import charges
from tests.support.api import ADDRESS


def sign_up(client, currency: str | None = None, name: str = "Tokyo Toys"):
    extra = {} if currency is None else {"currency": currency}
    return client.post("/api/v1/merchants", json={
        "name": name, "email": f"{name.replace(' ', '.').lower()}@example.com",
        "password": "long enough", **extra})


def add_product(client, slug: str, token: str, sku: str, price, stock: int = 10):
    return client.post(f"/api/v1/shops/{slug}/products",
                       headers={"Authorization": f"Bearer {token}"},
                       json={"sku": sku, "name": sku, "price": price, "stock": stock})


def test_a_shop_sells_in_euros_unless_it_says_otherwise(client):
    response = sign_up(client)
    assert response.status_code == 201
    assert response.get_json()["merchant"]["currency"] == "EUR"


def test_a_shop_can_sell_in_yen(client):
    response = sign_up(client, "JPY")
    assert response.status_code == 201
    merchant = response.get_json()
    slug, token = merchant["merchant"]["slug"], merchant["token"]
    assert merchant["merchant"]["currency"] == "JPY"
    # A bare amount is in the shop's currency; yen have no minor unit, so 1500 is ¥1,500.
    created = add_product(client, slug, token, "KOMA", 1500)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["price"] == {"amount": 1500, "currency": "JPY"}
    euros = add_product(client, slug, token, "EURO", {"amount": 1500, "currency": "EUR"})
    assert euros.status_code == 422
    problem = euros.get_json()
    assert problem["code"] == "currency_mismatch" and problem["shop_currency"] == "JPY"
    assert "sells in JPY" in problem["detail"]


@pytest.mark.parametrize("currency", ["XYZ", "ABC", "DEM", "XTS", "XAU", "eur", "EU", "EURO",
                                      12, None])
def test_sign_up_refuses_what_is_not_a_circulating_iso_currency(client, currency):
    response = client.post("/api/v1/merchants", json={
        "name": "Odd", "email": "odd@example.com", "password": "long enough",
        "currency": currency})
    if currency is None:  # null means "not given": the default
        assert response.status_code == 201
        return
    assert response.status_code == 422, response.get_json()
    assert "ISO 4217" in response.get_json()["detail"]


def test_a_product_priced_in_another_currency_is_refused(client, api, shop):
    api.add_product(shop, "MUG", price=1000)
    created = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth, json={
        "sku": "TEA", "name": "Tea", "price": {"amount": 500, "currency": "USD"}, "stock": 3})
    assert created.status_code == 422 and created.get_json()["code"] == "currency_mismatch"
    patched = client.patch(f"/api/v1/shops/{shop.slug}/products/MUG", headers=shop.auth,
                           json={"price": {"amount": 1000, "currency": "GBP"}})
    assert patched.status_code == 422 and patched.get_json()["code"] == "currency_mismatch"
    unknown = client.patch(f"/api/v1/shops/{shop.slug}/products/MUG", headers=shop.auth,
                           json={"price": {"amount": 1000, "currency": "QQQ"}})
    assert unknown.status_code == 422 and unknown.get_json()["code"] == "unknown_currency"
    product = client.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()
    assert product["price"] == {"amount": 1000, "currency": "EUR"}


def test_a_cart_in_two_currencies_is_refused_at_checkout(client, api, shop, app, redis_client):
    """A product whose currency changed while it sat in a cart (data from before the shop
    had one currency, written here straight to the table) never shares an order."""
    api.add_product(shop, "MUG", price=1000, stock=5)
    api.add_product(shop, "TEA", price=500, stock=5)
    cart_id = api.new_cart(shop)
    api.set_item(cart_id, "MUG", 1)
    api.set_item(cart_id, "TEA", 2)
    with app.extensions["peakshop"].database.transaction() as session:
        session.execute(update(Product).where(Product.sku == "TEA").values(currency="USD"))
    response = client.post(f"/api/v1/carts/{cart_id}/checkout", headers={"Idempotency-Key": "k"},
                           json={"email": "s@example.com", "shipping_address": ADDRESS,
                                 "payment": {"gateway": "dummy", "token": "tok_ok"}})
    assert response.status_code == 409
    problem = response.get_json()
    assert problem["code"] == "currency_mismatch"
    assert problem["currencies"] == ["EUR", "USD"]
    for sku in ("MUG", "TEA"):
        assert client.get(f"/api/v1/shops/{shop.slug}/products/{sku}").get_json()[
            "available"] == 5
    assert charges(redis_client) == []
    # Removing the odd line out lets the cart through.
    api.set_item(cart_id, "TEA", 0)
    paid = client.post(f"/api/v1/carts/{cart_id}/checkout", headers={"Idempotency-Key": "k2"},
                       json={"email": "s@example.com", "shipping_address": ADDRESS,
                             "payment": {"gateway": "dummy", "token": "tok_ok"}})
    assert paid.status_code == 201 and paid.get_json()["total"] == {"amount": 1000,
                                                                    "currency": "EUR"}


@pytest.mark.parametrize("code, accepted", [
    ("EUR", True), ("USD", True), ("JPY", True), ("CHF", True), ("SEK", True),
    ("BHD", True),  # three decimals
    ("DEM", False),  # withdrawn in 2002
    ("XXX", False), ("XTS", False), ("USN", False), ("ZZZ", False),
])
def test_currency_codes(code, accepted):
    if accepted:
        assert currency_code({"currency": code}) == code
        assert money({"price": {"amount": 1, "currency": code}}, "price") == (1, code)
    else:
        with pytest.raises(InvalidInput, match="ISO 4217"):
            currency_code({"currency": code})


def test_an_empty_cart_totals_zero_in_the_shops_currency(client):
    merchant = sign_up(client, "JPY").get_json()
    slug, token = merchant["merchant"]["slug"], merchant["token"]
    assert add_product(client, slug, token, "KOMA", 1500).status_code == 201
    cart_id = client.post(f"/api/v1/shops/{slug}/carts").get_json()["cart_id"]
    assert client.get(f"/api/v1/carts/{cart_id}").get_json()["total"] == \
        {"amount": 0, "currency": "JPY"}
    client.put(f"/api/v1/carts/{cart_id}/items/KOMA", json={"quantity": 2})
    emptied = client.put(f"/api/v1/carts/{cart_id}/items/KOMA", json={"quantity": 0})
    assert emptied.get_json()["total"] == {"amount": 0, "currency": "JPY"}
