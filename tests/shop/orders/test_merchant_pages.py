"""The back-office's orders pages through Flask's test client: the list filtered by status and
paged with the JSON API's cursor (every order reached once), one order's lines, shipping, tax
and history, bad parameters as 4xx pages, and another shop's orders out of reach."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import update

from shop.orders.models import Order
from tests.shop.backoffice import BackOffice, text
from tests.shop.merchants.conftest import team  # noqa: F401  (fixture)
from tests.support.api import ADDRESS

ORDER_LINK = re.compile(r'/orders/([0-9a-f]{32})"')
NEXT_LINK = re.compile(r'rel="next" href="([^"]+)"')


@pytest.fixture
def viewer(client, team):  # noqa: F811
    """The least of the roles: a viewer reads every order page."""
    return BackOffice.sign_in(client, team["viewer"].slug, team["viewer"].email)


def every_page(office: BackOffice, query: str) -> list[str]:
    """The order ids listed on each page, following "Older orders" until it is gone."""
    seen, path = [], f"{office.url('/orders')}?{query}"
    while path:
        response = office.client.get(path)
        assert response.status_code == 200
        page = text(response)
        seen += ORDER_LINK.findall(page)
        found = NEXT_LINK.search(page)
        path = found.group(1) if found else None
    return seen


def test_the_list_reaches_every_order_once_filtered_by_status(app, api, team, viewer):  # noqa: F811,E501
    owner = team["owner"]
    api.add_product(owner, "TREE", stock=50)
    paid = [api.buy(owner, "TREE").get_json()["order_id"] for _ in range(5)]
    failed = [api.buy(owner, "TREE", token="tok_declined").get_json()["order_id"]
              for _ in range(2)]
    # Orders placed in the same instant are told apart by id: none is skipped or repeated.
    with app.extensions["peakshop"].database.transaction() as session:
        session.execute(update(Order).where(Order.id.in_(paid[1:4]))
                        .values(created_at=datetime(2026, 12, 1, 12, 0)))
    everything = every_page(viewer, "limit=2")
    assert sorted(everything) == sorted(paid + failed) and len(set(everything)) == 7
    assert sorted(every_page(viewer, "status=payment_failed&limit=1")) == sorted(failed)
    assert sorted(every_page(viewer, "status=paid&limit=3")) == sorted(paid)
    assert every_page(viewer, "status=cancelled") == []
    listed = text(viewer.get("/orders?status=payment_failed"))
    assert "Payment failed" in listed and "shopper@example.com" in listed
    assert '<option value="payment_failed" selected>' in listed


def test_an_order_page_shows_lines_shipping_tax_totals_and_history(client, api, shop, team,  # noqa: F811,E501
                                                                   viewer):
    api.add_product(shop, "TREE", name="Tree star", price=1250, stock=9)
    api.add_product(shop, "MUG", name="Reindeer mug", price=800, stock=9)
    cart = api.new_cart(shop)
    api.set_item(cart, "TREE", 2)
    api.set_item(cart, "MUG", 1)
    options = client.get(f"/api/v1/carts/{cart}/shipping-options?country=FI").get_json()
    option = options["items"][0]
    placed = client.post(f"/api/v1/carts/{cart}/checkout", headers={"Idempotency-Key": "k1"},
                         json={"email": "ada@example.com", "shipping_address": ADDRESS,
                               "payment": {"gateway": "dummy", "token": "tok_ok"},
                               "shipping_option": option["id"]})
    assert placed.status_code == 201, placed.get_json()
    order_id = placed.get_json()["order_id"]
    order = api.order(order_id, placed.get_json()["access_token"]).get_json()

    response = viewer.get(f"/orders/{order_id}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = text(response)
    for expected in ("Tree star", "Reindeer mug", "€25.00", "€8.00", "€33.00",
                     "Ada Lovelace", "1 Frost Lane", "96930 Rovaniemi", "ada@example.com",
                     "Placed; stock reserved", "Paid", option["carrier"]):
        assert expected in page, expected
    money = "€{:,.2f}"
    assert money.format(order["shipping"]["price"]["amount"] / 100) in page
    assert money.format(order["tax"]["amount"] / 100) in page
    assert f'data-testid="order-total">{money.format(order["total"]["amount"] / 100)}<' in page
    assert "<script" not in page and "Content-Security-Policy" in response.headers


def test_a_failed_order_says_why_in_its_history(api, shop, viewer):
    api.add_product(shop, "TREE", stock=3)
    order_id = api.buy(shop, "TREE", token="tok_declined").get_json()["order_id"]
    page = text(viewer.get(f"/orders/{order_id}"))
    assert "Payment failed (card declined); reserved stock returned" in page


def test_another_shops_order_is_a_404_and_its_list_a_403(client, api, viewer):
    other = api.sign_up("Someone Else")
    api.add_product(other, "THEIRS", stock=3)
    theirs = api.buy(other, "THEIRS").get_json()["order_id"]
    refused = viewer.get(f"/orders/{theirs}")
    # Nothing of the shopper's (the order's own id, hex, may hold the letters "ada").
    page = text(refused)
    assert refused.status_code == 404
    assert "Ada Lovelace" not in page and "Frost Lane" not in page
    assert "shopper@example.com" not in page
    assert client.get(f"/merchant/shops/{other.slug}/orders").status_code == 403
    assert client.get(f"/merchant/shops/{other.slug}/orders/{theirs}").status_code == 403


@pytest.mark.parametrize("path, statuses", [
    ("/orders?status=shipped", {422}),
    ("/orders?cursor=nope", {422}),
    ("/orders?cursor=MjAyNnxhYmM", {422}),
    ("/orders?limit=1000", {422}),
    ("/orders?status=%00", {400}),
    ("/orders/" + "f" * 33, {404}),
    ("/orders/%00", {400}),
    ("/orders?limit=" + "9" * 5000, {414}),
    ("/orders?cursor=" + "9" * 5000, {414}),
])
def test_bad_order_addresses_get_a_page_saying_so(viewer, path, statuses):
    response = viewer.get(path)
    assert response.status_code in statuses and response.mimetype == "text/html", path


def test_a_nul_in_the_shop_address_is_a_4xx_not_a_crash(client, viewer):
    response = client.get("/merchant/shops/a%00b/orders")
    assert 400 <= response.status_code < 500
