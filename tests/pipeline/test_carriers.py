"""Carriers: the merchant's endpoints, the booking plan, and capacity under concurrent workers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from common import order_stream
from shop.fulfilment.booking import (
    DEFAULT_CARRIER,
    Booking,
    CarrierOption,
    arrives_before_christmas,
    plan_bookings,
)
from shop.fulfilment.working_days import WorkingCalendar
from tests.pipeline.support import buy_many, wait_until

# The queue and the carts behave the same on one Redis and on a Redis Cluster.
pytestmark = pytest.mark.redis_topologies

TODAY = date(2026, 12, 14)  # a Monday: the days below are working days
TOMORROW = TODAY + timedelta(days=1)
FAST = CarrierOption(1, "Fast", 10, 1)
SLOW = CarrierOption(2, "Slow", 5, 3)


@pytest.mark.parametrize(("carriers", "booked", "count", "expected"), [
    ([], {}, 3, [Booking(DEFAULT_CARRIER, TODAY, 3)]),
    ([FAST, SLOW], {}, 4, [Booking(FAST, TODAY, 4)]),
    ([FAST, SLOW], {(1, TODAY): 8}, 4, [Booking(FAST, TODAY, 2), Booking(SLOW, TODAY, 2)]),
    ([FAST, SLOW], {(1, TODAY): 10, (2, TODAY): 5}, 2, [Booking(FAST, TOMORROW, 2)]),
    # Capacity lowered below what was booked: no room, never negative room.
    ([FAST, SLOW], {(1, TODAY): 12}, 1, [Booking(SLOW, TODAY, 1)]),
    ([FAST], {(1, TODAY): 10}, 12, [Booking(FAST, TOMORROW, 10),
                                    Booking(FAST, TOMORROW + timedelta(days=1), 2)]),
    ([FAST], {}, 0, []),
])
def test_plan_fills_preferred_carriers_first_then_later_days(carriers, booked, count,
                                                             expected):
    assert plan_bookings(carriers, booked, count, TODAY) == expected


def test_plan_beyond_the_horizon_falls_back_to_the_default_service():
    plan = plan_bookings([FAST], {}, 25, TODAY, horizon_days=2)
    assert plan[-1] == Booking(DEFAULT_CARRIER, TODAY + timedelta(days=2), 5)


@pytest.mark.parametrize(("promised", "expected"), [
    (date(2026, 12, 24), True), (date(2026, 12, 25), False), (None, None)])
def test_christmas_eve_is_the_last_day_that_counts(promised, expected):
    assert arrives_before_christmas(promised) is expected


def carriers_url(shop) -> str:
    return f"/api/v1/shops/{shop.slug}/carriers"


def add_carrier(api, shop, name: str, capacity: int, transit_days: int, priority: int) -> dict:
    response = api.client.post(carriers_url(shop), headers=shop.auth, json={
        "name": name, "daily_capacity": capacity, "transit_days": transit_days,
        "priority": priority})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_merchant_manages_carriers(api, shop):
    fast = add_carrier(api, shop, "Fast", 10, 1, 0)
    assert fast == {"id": fast["id"], "name": "Fast", "daily_capacity": 10, "transit_days": 1,
                    "priority": 0, "is_down": False, "booked_today": 0,
                    "origin_country": "DE", "domestic_rate": 0, "eu_rate": 0, "world_rate": 0,
                    "free_shipping_over": None, "cutoff_hour": 24,
                    "holidays": [], "own_holidays": False, "origin_subdivision": None,
                    "public_holidays": True, "upcoming_holidays": fast["upcoming_holidays"]}
    # Germany's public holidays (Easter's too) and the Christmas days, for a year ahead.
    names = {holiday["name"] for holiday in fast["upcoming_holidays"]}
    assert {"Good Friday", "Easter Monday", "German Unity Day", "Christmas Eve"} <= names
    add_carrier(api, shop, "Cheap", 100, 4, 5)
    listed = api.client.get(carriers_url(shop), headers=shop.auth).get_json()["items"]
    assert [carrier["name"] for carrier in listed] == ["Fast", "Cheap"]

    changed = api.client.patch(f"{carriers_url(shop)}/{fast['id']}", headers=shop.auth,
                               json={"is_down": True, "priority": 9})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["is_down"] is True
    listed = api.client.get(carriers_url(shop), headers=shop.auth).get_json()["items"]
    assert [carrier["name"] for carrier in listed] == ["Cheap", "Fast"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"name": "X", "daily_capacity": 0}, 422, "invalid_input"),
    ({"name": "X", "daily_capacity": "many"}, 422, "invalid_input"),
    ({"name": "X", "daily_capacity": 5, "transit_days": -1}, 422, "invalid_input"),
    ({"name": "X", "daily_capacity": 5, "is_down": "yes"}, 422, "invalid_input"),
    ({"name": "X", "daily_capacity": 5, "colour": "red"}, 422, "invalid_input"),
    ({"daily_capacity": 5}, 422, "invalid_input"),
    ({"name": "Fast", "daily_capacity": 5}, 409, "carrier_exists"),
])
def test_bad_carriers_are_refused_with_the_reason(api, shop, body, status, code):
    add_carrier(api, shop, "Fast", 10, 1, 0)
    response = api.client.post(carriers_url(shop), headers=shop.auth, json=body)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code


def test_carriers_are_private_to_their_shop(api, shop):
    fast = add_carrier(api, shop, "Fast", 10, 1, 0)
    other = api.sign_up("Elsewhere")
    assert api.client.get(carriers_url(shop)).status_code == 401
    assert api.client.get(carriers_url(shop), headers=other.auth).status_code == 403
    assert api.client.patch(f"{carriers_url(other)}/{fast['id']}", headers=other.auth,
                            json={"is_down": True}).status_code == 404
    assert api.client.patch(f"{carriers_url(shop)}/{fast['id']}", headers=shop.auth,
                            json={}).status_code == 422


def test_concurrent_workers_never_book_a_carrier_above_capacity(
        api, shop, state, redis_client, worker_env, workers):
    api.add_product(shop, "MUG", stock=100)
    express = add_carrier(api, shop, "Express", 7, 1, 0)
    down = add_carrier(api, shop, "Grounded", 100, 1, 1)
    backup = add_carrier(api, shop, "Backup", 5, 3, 2)
    api.client.patch(f"{carriers_url(shop)}/{down['id']}", headers=shop.auth,
                     json={"is_down": True})
    order_ids = buy_many(api, shop, 30)
    for order_id in order_ids[:10]:  # delivered twice, as after a relay crash
        redis_client.xadd(order_stream.STREAM, {"topic": "order.paid", "order_id": order_id})

    env = {**worker_env, "PEAKSHOP_WORKER_BATCH_SIZE": "3"}
    workers(env, "left")
    workers(env, "right")
    wait_until(lambda: state.count("confirmed") == 30, "every order confirmed")
    wait_until(lambda: order_stream.queue_depth(redis_client).length == 0, "the queue drained")

    booked = state.carrier_days()
    first_day = date.fromisoformat(min(day for _, day in booked))
    german = WorkingCalendar("DE")  # where the carriers leave from (their default)
    day = [german.add_working_days(first_day, n).isoformat() for n in range(3)]
    assert booked == {(express["id"], day[0]): 7, (backup["id"], day[0]): 5,
                      (express["id"], day[1]): 7, (backup["id"], day[1]): 5,
                      (express["id"], day[2]): 6}
    assert len(state.mails()) == 30
    assert state.product("MUG") == (70, 0)

    transit = {express["id"]: 1, backup["id"]: 3}
    shown = {item["order_id"]: item for item in api.client.get(
        f"/api/v1/shops/{shop.slug}/orders?limit=100", headers=shop.auth).get_json()["items"]}
    for order in state.orders():
        dispatched = german.subtract_working_days(order.promised_delivery_date,
                                                  transit[order.carrier_id])
        assert dispatched.isoformat() in day
        item = shown[order.id]
        assert item["carrier"] == ("Express" if order.carrier_id == express["id"] else "Backup")
        assert item["promised_delivery_date"] == order.promised_delivery_date.isoformat()
        assert item["arrives_before_christmas"] is arrives_before_christmas(
            order.promised_delivery_date, order.created_at.date())
