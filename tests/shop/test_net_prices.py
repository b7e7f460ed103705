"""Shops with net prices (`prices_include_vat` false): VAT by destination added at checkout.

The expected amounts are worked out by hand in the comments (per line, rounded half up),
not with shop.taxes.vat, so a wrong formula there fails here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.orders.models import Order
from shop.taxes import vat
from tests.shop.merchants.conftest import add_member

# sku -> (net unit price, quantity). Line totals 5997, 333, 2490, 150: 8970 in all.
LINES = {"SLED": (1999, 3), "BELL": (333, 1), "SCARF": (1245, 2), "CARD": (150, 1)}
NET_LINES = 8970
# A carrier shipping from DE: 4.90 at home, 9.90 to the rest of the EU, 19.90 elsewhere.
DOMESTIC, EU, WORLD = 490, 990, 1990

# FR 20 %: 1199.4 -> 1199, 66.6 -> 67, 498, 30; shipping 198.
FR_LINES_TAX = 1199 + 67 + 498 + 30
FR_TAX = FR_LINES_TAX + 198
# DE 19 %: 1139.43 -> 1139, 63.27 -> 63, 473.1 -> 473, 28.5 -> 29 (half up, not to even);
# shipping 93.1 -> 93.
DE_TAX = 1139 + 63 + 473 + 29 + 93


def address(country: str) -> dict:
    return {"name": "Ada Lovelace", "line1": "1 Frost Lane", "city": "Somewhere",
            "postal_code": "12345", "country": country}


def set_net(client, shop, value=False):
    response = client.patch(f"/api/v1/shops/{shop.slug}/settings", headers=shop.auth,
                            json={"prices_include_vat": value})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def stocked(api, shop):
    """A shop with the four products and a DE carrier, still gross (the default)."""
    for sku, (price, _) in LINES.items():
        api.add_product(shop, sku, price=price, stock=20)
    response = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth, json={
        "name": "Post", "daily_capacity": 100, "transit_days": 2, "origin_country": "DE",
        "domestic_rate": DOMESTIC, "eu_rate": EU, "world_rate": WORLD})
    assert response.status_code == 201, response.get_json()
    return shop


def filled_cart(api, shop) -> str:
    cart_id = api.new_cart(shop)
    for sku, (_, quantity) in LINES.items():
        assert api.set_item(cart_id, sku, quantity).status_code == 200
    return cart_id


def checkout(client, cart_id, country, key, **extra):
    return client.post(f"/api/v1/carts/{cart_id}/checkout", headers={"Idempotency-Key": key},
                       json={"email": "buyer@example.com", "shipping_address": address(country),
                             "payment": {"gateway": "dummy", "token": "tok_ok"}, **extra})


@pytest.mark.parametrize("country, shipping, tax", [
    ("FR", EU, FR_TAX),
    ("DE", DOMESTIC, DE_TAX),
    ("US", WORLD, 0),          # outside the EU: no EU VAT added
])
def test_a_net_shop_adds_the_destinations_vat_to_lines_and_shipping(app, api, client, stocked,
                                                                   country, shipping, tax):
    set_net(client, stocked)
    response = checkout(client, filled_cart(api, stocked), country, f"net-{country}")
    assert response.status_code == 201, response.get_json()
    placed = response.get_json()
    total = NET_LINES + shipping + tax
    assert placed["total"] == {"amount": total, "currency": "EUR"}
    shown = api.order(placed["order_id"], placed["access_token"]).get_json()
    assert shown["tax"] == {"amount": tax, "currency": "EUR"}
    assert shown["prices_include_vat"] is False
    assert shown["shipping"]["price"]["amount"] == shipping
    # Totals add up to the cent: net lines (as the order lists them) + shipping + VAT.
    lines = sum(item["unit_price"]["amount"] * item["quantity"] for item in shown["items"])
    assert lines + shown["shipping"]["price"]["amount"] + shown["tax"]["amount"] == total
    with app.extensions["peakshop"].database.reading() as session:
        order = session.scalar(select(Order).where(Order.id == placed["order_id"]))
        assert (order.total_amount, order.tax_amount, order.shipping_amount,
                order.prices_include_vat) == (total, tax, shipping, False)


def test_fr_and_de_orders_of_the_same_cart_differ_by_their_vat(api, client, stocked):
    set_net(client, stocked)
    to_fr = checkout(client, filled_cart(api, stocked), "FR", "fr").get_json()
    to_de = checkout(client, filled_cart(api, stocked), "de", "de").get_json()
    assert to_fr["total"]["amount"] == 11952 and to_de["total"]["amount"] == 11257
    assert to_fr["total"]["amount"] - to_de["total"]["amount"] == (EU - DOMESTIC) + (
        FR_TAX - DE_TAX)


def test_a_gross_shop_is_unchanged(api, client, stocked):
    """The default: the price shown is the price paid, VAT inside."""
    placed = checkout(client, filled_cart(api, stocked), "FR", "gross").get_json()
    assert placed["total"]["amount"] == NET_LINES + EU
    shown = api.order(placed["order_id"], placed["access_token"]).get_json()
    # FR 20 % inside: 5997/6 = 999.5 -> 1000, 55.5 -> 56, 415, 25; shipping 165.
    assert shown["tax"]["amount"] == 1000 + 56 + 415 + 25 + 165
    assert shown["prices_include_vat"] is True


def test_the_cart_says_how_its_prices_read_and_its_vat_for_a_country(api, client, stocked):
    cart_id = filled_cart(api, stocked)
    gross = client.get(f"/api/v1/carts/{cart_id}").get_json()
    assert gross["prices_include_vat"] is True and "tax" not in gross
    set_net(client, stocked)
    net = client.get(f"/api/v1/carts/{cart_id}").get_json()
    assert net["prices_include_vat"] is False
    assert net["total"] == {"amount": NET_LINES, "currency": "EUR"}
    with_fr = client.get(f"/api/v1/carts/{cart_id}?country=fr").get_json()
    assert with_fr["country"] == "FR" and with_fr["vat_rate_percent"] == "20"
    assert with_fr["tax"] == {"amount": FR_LINES_TAX, "currency": "EUR"}
    assert with_fr["total_with_tax"] == {"amount": NET_LINES + FR_LINES_TAX, "currency": "EUR"}
    put = api.set_item(cart_id, "CARD", 2).get_json()
    assert put["prices_include_vat"] is False
    refused = client.get(f"/api/v1/carts/{cart_id}?country=XX")
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert "'country'" in refused.get_json()["detail"]


def test_shipping_options_follow_the_shops_convention(api, client, stocked):
    cart_id = filled_cart(api, stocked)
    gross = client.get(f"/api/v1/carts/{cart_id}/shipping-options?country=FR").get_json()
    [option] = gross["items"]
    assert gross["prices_include_vat"] is True and option["price_includes_vat"] is True
    assert option["tax"] == option["tax_included"] == {"amount": 165, "currency": "EUR"}
    set_net(client, stocked)
    net = client.get(f"/api/v1/carts/{cart_id}/shipping-options?country=FR").get_json()
    [option] = net["items"]
    assert net["prices_include_vat"] is False and option["price_includes_vat"] is False
    assert option["price"]["amount"] == EU
    assert option["tax"] == {"amount": 198, "currency": "EUR"}
    assert option["tax_included"]["amount"] == 0


def test_products_say_whether_their_price_includes_vat(api, client, stocked):
    one = f"/api/v1/shops/{stocked.slug}/products/SLED"
    assert client.get(one).get_json()["price_includes_vat"] is True
    set_net(client, stocked)
    assert client.get(one).get_json()["price_includes_vat"] is False
    listed = client.get(f"/api/v1/shops/{stocked.slug}/products").get_json()["items"]
    assert {item["price_includes_vat"] for item in listed} == {False}


def test_expected_total_is_the_carts_net_total_in_a_net_shop(api, client, stocked):
    set_net(client, stocked)
    cart_id = filled_cart(api, stocked)
    # The total with VAT is not the cart's total: refused, nothing reserved.
    with_vat = checkout(client, cart_id, "FR", "k1",
                        expected_total={"amount": NET_LINES + FR_LINES_TAX, "currency": "EUR"})
    assert with_vat.status_code == 409, with_vat.get_json()
    assert with_vat.get_json()["code"] == "price_changed"
    assert with_vat.get_json()["total"] == {"amount": NET_LINES, "currency": "EUR"}
    sled = client.get(f"/api/v1/shops/{stocked.slug}/products/SLED").get_json()
    assert sled["available"] == 20
    # A net price changes after the shopper saw the cart.
    assert client.patch(f"/api/v1/shops/{stocked.slug}/products/SLED", headers=stocked.auth,
                        json={"price": 2099}).status_code == 200
    stale = checkout(client, cart_id, "FR", "k2", expected_total=NET_LINES)
    assert stale.status_code == 409 and stale.get_json()["code"] == "price_changed"
    fresh = checkout(client, cart_id, "FR", "k3", expected_total=NET_LINES + 300)
    assert fresh.status_code == 201, fresh.get_json()
    # 2099 x 3 = 6297 -> 1259.4 -> 1259 VAT instead of 1199.
    assert fresh.get_json()["total"]["amount"] == 11952 + 300 + (1259 - 1199)


def test_the_totals_formula_rounds_each_line_half_up():
    assert vat.added_vat(150, vat.rate_for("DE")) == 29       # 28.5
    assert vat.added_vat(50, vat.rate_for("FI")) == 13        # 12.75
    assert vat.added_vat(2, vat.rate_for("FI")) == 1          # 0.51
    assert vat.added_vat(1, vat.rate_for("DE")) == 0          # 0.19
    assert vat.order_total([150, 150], 0, "DE", False) == vat.TaxedTotal(58, 358)
    assert vat.order_total([150, 150], 0, "DE", True) == vat.TaxedTotal(48, 300)  # 23.95 each


@pytest.mark.parametrize("body, named", [
    ({"prices_include_vat": "false"}, "'prices_include_vat' must be true"),
    ({"prices_include_vat": 0}, "'prices_include_vat' must be true"),
    ({"prices_include_vat": None}, "'prices_include_vat' must be true"),
    ({"prices_include_vat": False, "currency": "USD"}, "unknown field(s) 'currency'"),
    ({"vat": True}, "unknown field(s) 'vat'"),
    ({}, "send at least one of prices_include_vat"),
])
def test_settings_refuse_what_is_not_a_setting(client, shop, body, named):
    response = client.patch(f"/api/v1/shops/{shop.slug}/settings", headers=shop.auth,
                            json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert named in response.get_json()["detail"]
    shown = client.get(f"/api/v1/shops/{shop.slug}/settings", headers=shop.auth).get_json()
    assert shown["prices_include_vat"] is True


def test_settings_refuse_bodies_that_are_not_json_objects(client, shop):
    url = f"/api/v1/shops/{shop.slug}/settings"
    assert client.patch(url, headers=shop.auth, data="prices_include_vat=false",
                        content_type="text/plain").status_code == 415
    assert client.patch(url, headers=shop.auth, data="{", content_type="application/json"
                        ).status_code == 400
    assert client.patch(url, headers=shop.auth, json=[False]).status_code == 422
    assert client.patch(url, json={"prices_include_vat": False}).status_code == 401


@pytest.mark.parametrize("role, may_change", [
    ("owner", True), ("manager", True), ("staff", False), ("viewer", False)])
def test_owners_and_managers_change_settings_everyone_reads_them(client, shop, role,
                                                                 may_change):
    member = shop if role == "owner" else add_member(client, shop, role)
    url = f"/api/v1/shops/{shop.slug}/settings"
    read = client.get(url, headers=member.auth)
    assert read.status_code == 200
    assert read.get_json() == {"shop": shop.slug, "currency": "EUR",
                               "prices_include_vat": True}
    changed = client.patch(url, headers=member.auth, json={"prices_include_vat": False})
    assert changed.status_code == (200 if may_change else 403)
    after = client.get(url, headers=shop.auth).get_json()["prices_include_vat"]
    assert after is (not may_change)


def test_the_confirmation_mail_says_the_vat_was_added_to_net_prices():
    from datetime import date

    from shop.notifications.service import ConfirmationFacts, render_confirmation

    facts = dict(order_id="a" * 32, email="b@example.com", items=[("Sled", 3, 1999)],
                 total_amount=5997 + 990 + 1397, currency="EUR", carrier_name="Post",
                 promised_delivery_date=date(2026, 12, 18), arrives_before_christmas=True,
                 shipping_amount=990, tax_amount=1397)
    _, net_body = render_confirmation(ConfirmationFacts(**facts, prices_include_vat=False))
    assert "VAT added to net prices: 13.97 EUR" in net_body and "Includes VAT" not in net_body
    _, gross_body = render_confirmation(ConfirmationFacts(**facts))
    assert "Includes VAT: 13.97 EUR" in gross_body and "added" not in gross_body
