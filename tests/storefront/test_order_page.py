"""The order status page: statuses in words, auto-refresh, delivery promise, access."""

from datetime import date, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update

from shop.orders.models import Order
from shop.orders.service import access_token, transition


def place_order(shopper, api, shop, token: str = "tok_ok") -> str:
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=5)
    shopper.add_to_cart(shop.slug, "MUG", 2)
    response = shopper.checkout(shop.slug, payment_token=token)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def order_id_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def confirm(app, url: str, promised: date) -> None:
    """Confirm the paid order with a delivery promise, as the order worker does."""
    with app.extensions["peakshop"].database.transaction() as session:
        assert transition(session, order_id_of(url), from_status="paid", to_status="confirmed",
                          confirmed_at=datetime(2026, 12, 1, 9),
                          promised_delivery_date=promised)


def test_a_paid_order_refreshes_until_it_is_final(shopper, api, shop):
    url = place_order(shopper, api, shop)
    response = shopper.client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "<title>Order paid · peakshop</title>" in page
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "Reindeer mug" in page and "€25.00" in page
    assert "1 Frost Lane" in page and "shopper@example.com" in page
    # Promised at checkout already, before a worker books it.
    assert "Promised delivery: <strong>" in page and "with Standard shipping" in page


def test_a_confirmed_order_shows_the_promised_date_and_christmas(app, shopper, api, shop):
    url = place_order(shopper, api, shop)
    confirm(app, url, date(2026, 12, 3))
    page = shopper.page(url)
    assert "Confirmed" in page and 'http-equiv="refresh"' not in page
    assert "Thursday 3 December 2026" in page
    assert "Arrives before Christmas." in page
    assert "Standard shipping" in page


def test_a_late_order_says_it_arrives_after_christmas(app, shopper, api, shop):
    url = place_order(shopper, api, shop)
    confirm(app, url, date(2026, 12, 25))
    page = shopper.page(url)
    assert "Friday 25 December 2026" in page and "Arrives after Christmas Eve." in page


def test_pending_and_cancelled_orders_in_words(app, shopper, api, shop):
    url = place_order(shopper, api, shop)
    database = app.extensions["peakshop"].database
    with database.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id_of(url))
                        .values(status="pending_payment"))
    page = shopper.page(url)
    assert "Waiting for payment" in page and 'http-equiv="refresh"' in page
    with database.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id_of(url))
                        .values(status="cancelled", failure_reason="reservation_expired"))
    page = shopper.page(url)
    assert "Cancelled" in page and "before the reservation ran out" in page
    assert 'http-equiv="refresh"' not in page


def test_a_wrong_token_is_a_403_page(shopper, api, shop):
    url = place_order(shopper, api, shop)
    response = shopper.client.get(f"/orders/{order_id_of(url)}?token=guess")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Reindeer mug" not in page and "access token does not open this order" in page


@pytest.mark.parametrize("token", ["%C3%A9", "%E9", "%ED%A0%80", "%EF%BC%A1"])
def test_a_token_of_any_text_is_a_403_page(shopper, api, shop, token):
    url = place_order(shopper, api, shop)
    response = shopper.client.get(f"/orders/{order_id_of(url)}?token={token}")
    assert response.status_code == 403
    assert "access token does not open this order" in response.get_data(as_text=True)


def test_a_missing_token_is_a_403_page(shopper, api, shop):
    url = place_order(shopper, api, shop)
    assert shopper.client.get(f"/orders/{order_id_of(url)}").status_code == 403


def test_an_unknown_order_is_a_404_page(app, client):
    order_id = "0" * 32
    token = access_token(app.config["SECRET_KEY"], order_id)
    response = client.get(f"/orders/{order_id}?token={token}")
    assert response.status_code == 404
    assert "text/html" in response.content_type
