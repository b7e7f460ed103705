"""A carrier goes down after an order was promised for Christmas: re-booked, shopper mailed."""

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from shop.core.timeutil import utcnow
from shop.fulfilment.booking import calendar_of
from shop.fulfilment.models import Carrier, CarrierDay
from shop.fulfilment.working_days import WorkingCalendar
from shop.notifications.models import OutgoingMail
from shop.orders.confirm import confirm_paid_orders


def add_carrier(api, shop, **fields):
    response = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                               json={"daily_capacity": 10, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_orders_move_to_the_next_carrier_and_shoppers_are_told(api, shop, app):
    database = app.extensions["peakshop"].database
    express = add_carrier(api, shop, name="Express", transit_days=1, priority=0)
    # The only other carrier is slow: from early December on it misses Christmas Eve.
    christmas_eve = date(utcnow().year, 12, 24)
    if utcnow().date() >= christmas_eve:
        pytest.skip("between Christmas Eve and New Year no delivery can be promised for it")
    # The fewest working days in transit that miss it: arriving after the Christmas closures.
    german = WorkingCalendar("DE")
    slow_days = next(days for days in range(1, 60)
                     if german.add_working_days(utcnow().date(), days) > christmas_eve)
    slow = add_carrier(api, shop, name="Slow freight", transit_days=slow_days, priority=1)
    api.add_product(shop, "MUG", stock=10)
    placed = [api.buy(shop, "MUG", 1, key=f"k{n}").get_json() for n in range(2)]
    with database.transaction() as session:
        confirm_paid_orders(session, [order["order_id"] for order in placed], utcnow())
    before = api.order(placed[0]["order_id"], placed[0]["access_token"]).get_json()
    assert before["carrier"] == "Express" and before["arrives_before_christmas"] is True

    marked = api.client.patch(f"/api/v1/shops/{shop.slug}/carriers/{express['id']}",
                              headers=shop.auth, json={"is_down": True})
    assert marked.status_code == 200
    assert marked.get_json()["booked_today"] == 0  # its slots were given back

    for order in placed:
        after = api.order(order["order_id"], order["access_token"]).get_json()
        assert after["carrier"] == "Slow freight"
        assert after["shipping"]["carrier"] == "Slow freight"
        promised = date.fromisoformat(after["promised_delivery_date"])
        assert promised > date.fromisoformat(before["promised_delivery_date"])
        assert after["arrives_before_christmas"] is False
    with database.reading() as session:
        mails = session.scalars(select(OutgoingMail)
                                .where(OutgoingMail.kind == f"rebooked:{express['id']}")
                                .order_by(OutgoingMail.id)).all()
        booked = {row.carrier_id: row.booked for row in session.scalars(select(CarrierDay))}
    assert [mail.order_id for mail in mails] == [order["order_id"] for order in placed]
    assert mails[0].recipient == "shopper@example.com"
    assert "New delivery date" in mails[0].subject
    assert "Express cannot deliver" in mails[0].body
    assert "Slow freight" in mails[0].body
    assert "no longer arrive before Christmas Eve" in mails[0].body
    # It links to the order page, whose token opens the order.
    link = mails[0].body.split("Your order, at any time: ", 1)[1].split()[0]
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert path == f"orders/{placed[0]['order_id']}?token={placed[0]['access_token']}"
    assert api.client.get("/" + path).status_code == 200
    assert booked == {express["id"]: 0, slow["id"]: 2}

    # Marking it down again, or up and down with nothing booked, mails nobody twice.
    for is_down in (True, False, True):
        assert api.client.patch(f"/api/v1/shops/{shop.slug}/carriers/{express['id']}",
                                headers=shop.auth, json={"is_down": is_down}).status_code == 200
    with database.reading() as session:
        assert len(session.scalars(select(OutgoingMail)
                                   .where(OutgoingMail.kind.like("rebooked:%"))).all()) == 2


def test_an_order_already_on_its_way_is_left_alone(api, shop, app):
    database = app.extensions["peakshop"].database
    express = add_carrier(api, shop, name="Express", transit_days=1)
    add_carrier(api, shop, name="Backup", transit_days=2, priority=1)
    api.add_product(shop, "MUG", stock=10)
    order = api.buy(shop, "MUG", 1).get_json()
    with database.transaction() as session:
        # Confirmed on the carrier's last working day before today, so dispatched then: a
        # plain "yesterday" is a Saturday or a holiday some days, and an order confirmed
        # then really does wait for Monday's dispatch (and is rightly rebooked).
        calendar = calendar_of(session.get(Carrier, express["id"]))
        dispatched_on = calendar.subtract_working_days(utcnow().date(), 1)
        confirm_paid_orders(session, [order["order_id"]],
                            datetime.combine(dispatched_on, time(10)))
    api.client.patch(f"/api/v1/shops/{shop.slug}/carriers/{express['id']}", headers=shop.auth,
                     json={"is_down": True})
    assert api.order(order["order_id"], order["access_token"]).get_json()["carrier"] == "Express"
