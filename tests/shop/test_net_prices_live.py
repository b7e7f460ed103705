"""A net-priced shop over real HTTP (gunicorn, both databases): the settings switch, the
cart's VAT for a country, and orders to France and Germany that add up to the cent."""

from __future__ import annotations

import requests

from tests.shop.test_net_prices import DE_TAX, DOMESTIC, EU, FR_LINES_TAX, FR_TAX, LINES, NET_LINES


def test_orders_of_a_net_shop_over_http(gunicorn_server):
    base = gunicorn_server.url + "/api/v1"
    http = requests.Session()
    merchant = http.post(f"{base}/merchants", json={
        "name": "Office Supplies", "email": "b2b@example.com", "password": "long enough"}).json()
    slug, auth = merchant["merchant"]["slug"], {"Authorization": f"Bearer {merchant['token']}"}
    for sku, (price, _) in LINES.items():
        created = http.post(f"{base}/shops/{slug}/products", headers=auth,
                            json={"sku": sku, "name": sku.title(), "price": price, "stock": 9})
        assert created.status_code == 201, created.text
    carrier = http.post(f"{base}/shops/{slug}/carriers", headers=auth, json={
        "name": "Post", "daily_capacity": 100, "origin_country": "DE",
        "domestic_rate": DOMESTIC, "eu_rate": EU, "world_rate": 1990})
    assert carrier.status_code == 201, carrier.text
    refused = http.patch(f"{base}/shops/{slug}/settings", headers=auth,
                         json={"prices_include_vat": "no"})
    assert refused.status_code == 422
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    switched = http.patch(f"{base}/shops/{slug}/settings", headers=auth,
                          json={"prices_include_vat": False})
    assert switched.status_code == 200 and switched.json()["prices_include_vat"] is False

    placed = {}
    for country in ("FR", "DE"):
        cart_id = http.post(f"{base}/shops/{slug}/carts").json()["cart_id"]
        for sku, (_, quantity) in LINES.items():
            assert http.put(f"{base}/carts/{cart_id}/items/{sku}",
                            json={"quantity": quantity}).status_code == 200
        cart = http.get(f"{base}/carts/{cart_id}", params={"country": country}).json()
        assert cart["prices_include_vat"] is False and cart["total"]["amount"] == NET_LINES
        if country == "FR":
            assert cart["tax"]["amount"] == FR_LINES_TAX
        response = http.post(f"{base}/carts/{cart_id}/checkout",
                             headers={"Idempotency-Key": f"live-{country}"}, json={
                                 "email": "buyer@example.com", "expected_total": cart["total"],
                                 "shipping_address": {"name": "A. Buyer", "line1": "1 Rue",
                                                      "city": "X", "postal_code": "1",
                                                      "country": country},
                                 "payment": {"gateway": "dummy", "token": "tok_ok"}})
        assert response.status_code == 201, response.text
        body = response.json()
        placed[country] = http.get(f"{base}/orders/{body['order_id']}", headers={
            "Authorization": f"Bearer {body['access_token']}"}).json()
    fr, de = placed["FR"], placed["DE"]
    assert (fr["tax"]["amount"], fr["total"]["amount"]) == (FR_TAX, NET_LINES + EU + FR_TAX)
    assert (de["tax"]["amount"], de["total"]["amount"]) == (DE_TAX,
                                                            NET_LINES + DOMESTIC + DE_TAX)
    assert fr["prices_include_vat"] is de["prices_include_vat"] is False
