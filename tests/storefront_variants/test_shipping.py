"""Shipping before paying: options with price and promised date, the same plan as booking."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from shop.core.timeutil import utcnow
from shop.fulfilment.booking import CarrierOption, promise
from shop.fulfilment.models import CarrierDay
from shop.fulfilment.shipping import Zone, last_order_date_for_christmas, zone_of
from shop.fulfilment.working_days import DEFAULT_CALENDAR, WorkingCalendar
from shop.notifications.models import OutgoingMail
from shop.orders.confirm import confirm_paid_orders
from shop.orders.models import Order
from tests.support.api import ADDRESS

TODAY = date(2026, 12, 14)  # a Monday


@pytest.mark.parametrize("origin, destination, zone", [
    ("DE", "DE", Zone.DOMESTIC), ("DE", "FR", Zone.EU), ("FR", "FI", Zone.EU),
    ("DE", "CH", Zone.WORLD), ("DE", "US", Zone.WORLD), ("US", "FR", Zone.WORLD),
    ("CH", "CH", Zone.DOMESTIC)])
def test_zones(origin, destination, zone):
    assert zone_of(origin, destination) is zone


# 24 December 2026 is a Thursday and a carrier holiday: parcels must arrive by Wednesday 23.
@pytest.mark.parametrize("transit, today, last_day", [
    (2, date(2026, 12, 14), date(2026, 12, 21)),
    (2, date(2026, 12, 21), date(2026, 12, 21)),
    (2, date(2026, 12, 22), None),                  # too late for this carrier
    (5, date(2026, 12, 1), date(2026, 12, 16)),     # the weekend of 19-20 does not count
    (2, date(2026, 11, 30), None),                  # only shown in December
])
def test_last_day_to_order_for_christmas(transit, today, last_day):
    assert last_order_date_for_christmas(transit, today) == last_day


@pytest.mark.parametrize("booked, hour, cutoff, promised", [
    ({}, 9, 14, TODAY + timedelta(days=2)),
    ({}, 14, 14, TODAY + timedelta(days=3)),             # past the cut-off: tomorrow
    ({(1, TODAY): 10}, 9, 24, TODAY + timedelta(days=3)),  # today is booked out
    ({(1, TODAY): 10, (1, TODAY + timedelta(days=1)): 10}, 9, 24, TODAY + timedelta(days=4)),
])
def test_promise_follows_capacity_and_cutoff(booked, hour, cutoff, promised):
    carrier = CarrierOption(1, "Post", 10, 2, cutoff)
    assert promise(carrier, booked, TODAY, hour).promised_delivery_date == promised


def add_carrier(api, shop, **fields):
    response = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                               json={"daily_capacity": 50, "transit_days": 2, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def options(api, cart_id, country="FR"):
    return api.client.get(f"/api/v1/carts/{cart_id}/shipping-options?country={country}")


@pytest.fixture
def cart(api, shop):
    api.add_product(shop, "MUG", price=1999, stock=10)
    cart_id = api.new_cart(shop)
    assert api.set_item(cart_id, "MUG", 2).status_code == 200  # 39.98
    return cart_id


def test_without_carriers_standard_shipping_is_the_one_free_option(api, cart):
    response = options(api, cart)
    assert response.status_code == 200
    [option] = response.get_json()["items"]
    assert option["id"] == "standard" and option["carrier"] == "Standard shipping"
    assert option["price"] == {"amount": 0, "currency": "EUR"}
    promised = date.fromisoformat(option["promised_date"])
    assert promised == DEFAULT_CALENDAR.add_working_days(utcnow().date(), 2)
    assert DEFAULT_CALENDAR.is_working_day(promised)
    assert option["arrives_before_christmas"] is (promised <= date(promised.year, 12, 24))


def test_rates_by_zone_and_the_free_shipping_threshold(api, shop, cart):
    post = add_carrier(api, shop, name="Post", origin_country="DE", domestic_rate=490,
                       eu_rate=990, world_rate=2490, free_shipping_over=5000, priority=0)
    express = add_carrier(api, shop, name="Express", origin_country="DE", domestic_rate=1290,
                          eu_rate=1990, world_rate=4990, transit_days=1, priority=1)
    prices = {country: {item["carrier"]: item["price"]["amount"]
                        for item in options(api, cart, country).get_json()["items"]}
              for country in ("DE", "FR", "US", "fr")}
    assert prices == {"DE": {"Post": 490, "Express": 1290}, "FR": {"Post": 990, "Express": 1990},
                      "US": {"Post": 2490, "Express": 4990},
                      "fr": {"Post": 990, "Express": 1990}}
    items = options(api, cart).get_json()["items"]
    assert [item["id"] for item in items] == [f"carrier-{post['id']}",
                                              f"carrier-{express['id']}"]
    german = WorkingCalendar("DE")
    assert items[1]["promised_date"] == german.add_working_days(utcnow().date(), 1).isoformat()
    assert api.set_item(cart, "MUG", 3).status_code == 200  # 59.97: over the threshold
    assert options(api, cart, "FR").get_json()["items"][0]["price"]["amount"] == 0
    api.client.patch(f"/api/v1/shops/{shop.slug}/carriers/{express['id']}", headers=shop.auth,
                     json={"is_down": True})
    assert [item["carrier"] for item in options(api, cart).get_json()["items"]] == ["Post"]


def test_rates_are_money_as_the_api_writes_it_or_bare_amounts(api, shop):
    """Money is {"amount", "currency"} everywhere in the API (the OpenAPI says so for these
    fields too); a bare amount is the shop currency's minor units."""
    url = f"/api/v1/shops/{shop.slug}/carriers"
    made = api.client.post(url, headers=shop.auth, json={
        "name": "Post", "daily_capacity": 10, "domestic_rate": {"amount": 490, "currency": "EUR"},
        "eu_rate": 990, "free_shipping_over": {"amount": 5000}})
    assert made.status_code == 201, made.get_json()
    changed = api.client.patch(f"{url}/{made.get_json()['id']}", headers=shop.auth,
                               json={"world_rate": {"amount": 2490, "currency": "EUR"}})
    assert changed.status_code == 200, changed.get_json()
    carrier = changed.get_json()
    assert [carrier[field] for field in ("domestic_rate", "eu_rate", "world_rate",
                                         "free_shipping_over")] == [490, 990, 2490, 5000]


@pytest.mark.parametrize(("rate", "code"), [
    ({"amount": 490, "currency": "USD"}, "currency_mismatch"),
    ({"amount": 490, "currency": "eur"}, "invalid_input"),
    ({"amount": -1, "currency": "EUR"}, "invalid_input"),
    ({"amount": 10**12, "currency": "EUR"}, "invalid_input"),
    ({"currency": "EUR"}, "invalid_input"),
    ({"amount": "490", "currency": "EUR"}, "invalid_input"),
    ("4.90", "invalid_input"),
])
def test_a_rate_that_is_not_money_of_the_shop_is_refused(api, shop, rate, code):
    response = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                               json={"name": "Post", "daily_capacity": 10, "eu_rate": rate})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == code
    assert "eu_rate" in response.get_json()["detail"]


def test_a_booked_out_day_moves_the_promise(api, shop, cart, app):
    post = add_carrier(api, shop, name="Post", daily_capacity=3)
    today = utcnow().date()
    with app.extensions["peakshop"].database.transaction() as session:
        session.add(CarrierDay(carrier_id=post["id"], day=today, booked=3))
    [item] = options(api, cart).get_json()["items"]
    german = WorkingCalendar("DE")
    # Today is full (or not a working day anyway): the parcel leaves on the next working day.
    dispatch = german.next_working_day(today + timedelta(days=1))
    assert item["promised_date"] == german.add_working_days(dispatch, 2).isoformat()


@pytest.mark.parametrize("query", ["?country=XX", "?country=", "", "?country=FRA",
                                   "?country=12", "?country=EU"])
def test_bad_country_is_refused_with_the_fix(api, cart, query):
    response = api.client.get(f"/api/v1/carts/{cart}/shipping-options{query}")
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "'country'" in response.get_json()["detail"]


def test_control_characters_in_the_query_are_refused_at_the_edge(api, cart):
    response = api.client.get(f"/api/v1/carts/{cart}/shipping-options?country=%00%00")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"


def test_unknown_cart_is_404(api):
    assert options(api, "0" * 32).status_code == 404
    assert options(api, "../etc").status_code == 404


def checkout(api, cart_id, key, *, country="FR", shipping_option=None):
    body = {"email": "s@example.com", "shipping_address": {**ADDRESS, "country": country},
            "payment": {"gateway": "dummy", "token": "tok_ok"}}
    if shipping_option is not None:
        body["shipping_option"] = shipping_option
    return api.client.post(f"/api/v1/carts/{cart_id}/checkout",
                           headers={"Idempotency-Key": key}, json=body)


@pytest.mark.parametrize("country", ["XX", "ZZ", "", "Germany", "D"])
def test_checkout_refuses_a_country_that_is_not_iso(api, shop, cart, country):
    response = checkout(api, cart, f"bad-{country}", country=country)
    assert response.status_code == 422
    assert "country" in response.get_json()["detail"]
    product = api.client.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()
    assert product["available"] == 10


@pytest.mark.parametrize("option", ["carrier-999999", "standard", "", 7, "x" * 100])
def test_checkout_refuses_an_option_not_offered(api, shop, cart, option):
    add_carrier(api, shop, name="Post", eu_rate=990)
    response = checkout(api, cart, "unknown-option", shipping_option=option)
    assert response.status_code == 422
    assert response.get_json()["code"] == "unknown_shipping_option"
    assert api.client.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()[
        "available"] == 10


def test_checkout_charges_the_chosen_shipping_and_the_worker_books_that_carrier(
        api, shop, cart, app):
    add_carrier(api, shop, name="Post", eu_rate=990, priority=0)
    express = add_carrier(api, shop, name="Express", eu_rate=1990, transit_days=1, priority=1)
    offered = {item["id"]: item for item in options(api, cart).get_json()["items"]}
    chosen = offered[f"carrier-{express['id']}"]
    placed = checkout(api, cart, "with-express", shipping_option=chosen["id"])
    assert placed.status_code == 201, placed.get_json()
    assert placed.get_json()["total"] == {"amount": 3998 + 1990, "currency": "EUR"}
    order = api.order(placed.get_json()["order_id"], placed.get_json()["access_token"]).get_json()
    assert order["shipping"]["price"] == {"amount": 1990, "currency": "EUR"}
    assert order["shipping"]["carrier"] == "Express"
    assert order["shipping"]["promised_date"] == chosen["promised_date"]
    # FR VAT 20 % included: line 3998 -> 666.33 -> 666; shipping 1990 -> 331.67 -> 332.
    assert order["tax"] == {"amount": 666 + 332, "currency": "EUR"}

    with app.extensions["peakshop"].database.transaction() as session:
        result = confirm_paid_orders(session, [order["order_id"]], utcnow())
        assert result.confirmed == [order["order_id"]]
        confirmed = session.scalar(select(Order).where(Order.id == order["order_id"]))
        assert confirmed.carrier_id == express["id"]  # not the preferred Post
        assert confirmed.promised_delivery_date.isoformat() == chosen["promised_date"]
        mail = session.scalar(select(OutgoingMail).where(OutgoingMail.order_id == confirmed.id))
    assert "Shipping  19.90 EUR" in mail.body and "Total: 59.88 EUR" in mail.body
    assert "Includes VAT: 9.98 EUR" in mail.body


def test_without_a_choice_the_first_option_is_charged(api, shop, cart):
    add_carrier(api, shop, name="Post", domestic_rate=490, eu_rate=990, world_rate=2490)
    placed = checkout(api, cart, "no-choice", country="CH")  # outside the EU: no VAT
    assert placed.get_json()["total"]["amount"] == 3998 + 2490
    order = api.order(placed.get_json()["order_id"], placed.get_json()["access_token"]).get_json()
    assert order["tax"]["amount"] == 0


def test_cut_off_is_a_whole_hour(api, shop):
    for hour in (-1, 25, "14", 13.5):
        response = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                                   json={"name": "Post", "daily_capacity": 5,
                                         "cutoff_hour": hour})
        assert response.status_code == 422
    refused = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                              json={"name": "Post", "daily_capacity": 5,
                                    "origin_country": "XX"})
    assert refused.status_code == 422


def test_promise_uses_the_hour_of_the_request():
    carrier = CarrierOption(1, "Post", 10, 2, 14)
    morning = datetime(2026, 12, 14, 9)
    assert promise(carrier, {}, morning.date(), morning.hour).dispatch_day == morning.date()
