"""Working days and carrier holidays: promises skip weekends and holidays, at quote and booking.

22 December 2023 was a Friday: the weekend, Christmas Eve (Sunday) and the two Christmas
holidays (Monday, Tuesday) follow it, so a parcel handed over that day arrives on Wednesday
the 27th at the earliest. 24 December 2026 is a Thursday.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from shop.fulfilment.booking import CarrierOption, arrives_before_christmas, book_slots, promise
from shop.fulfilment.shipping import last_order_date_for_christmas, shipping_options
from shop.fulfilment.working_days import WorkingCalendar, parse_holidays
from shop.notifications.models import OutgoingMail
from shop.orders.confirm import confirm_paid_orders
from shop.orders.models import Order

GERMANY = WorkingCalendar("DE")
FRANCE = WorkingCalendar("FR")
# A carrier that works every weekday of the year: no public holidays, no days of its own.
NO_HOLIDAYS = WorkingCalendar("DE", public=False)
FRIDAY_22 = date(2023, 12, 22)


def carrier(transit_days: int, calendar: WorkingCalendar = GERMANY, cutoff_hour: int = 14):
    return CarrierOption(1, "Post", 100, transit_days, cutoff_hour, calendar)


@pytest.mark.parametrize("today, hour, transit, calendar, dispatched, delivered", [
    # Friday 22 December before the cut-off: out today, in after the holidays.
    (FRIDAY_22, 9, 1, GERMANY, FRIDAY_22, date(2023, 12, 27)),
    (FRIDAY_22, 9, 0, GERMANY, FRIDAY_22, FRIDAY_22),
    # After the cut-off: the next working day is Wednesday the 27th.
    (FRIDAY_22, 15, 1, GERMANY, date(2023, 12, 27), date(2023, 12, 28)),
    (date(2023, 12, 21), 9, 1, GERMANY, date(2023, 12, 21), FRIDAY_22),
    # Ordered on the Saturday, on Christmas Eve, on Boxing Day: Wednesday.
    (date(2023, 12, 23), 9, 0, GERMANY, date(2023, 12, 27), date(2023, 12, 27)),
    (date(2023, 12, 24), 9, 1, GERMANY, date(2023, 12, 27), date(2023, 12, 28)),
    (date(2023, 12, 26), 9, 1, GERMANY, date(2023, 12, 27), date(2023, 12, 28)),
    # New Year's Day (a Monday) does not count as a day in transit.
    (date(2023, 12, 29), 9, 2, GERMANY, date(2023, 12, 29), date(2024, 1, 3)),
    # A country's own holidays: 14 July in France, 3 October in Germany.
    (date(2026, 7, 13), 9, 1, FRANCE, date(2026, 7, 13), date(2026, 7, 15)),
    (date(2026, 7, 13), 9, 1, GERMANY, date(2026, 7, 13), date(2026, 7, 14)),
    (date(2025, 10, 2), 9, 1, GERMANY, date(2025, 10, 2), date(2025, 10, 6)),
    # A carrier with its own (empty) list delivers on Christmas Eve 2026, a Thursday.
    (date(2026, 12, 23), 9, 1, NO_HOLIDAYS, date(2026, 12, 23), date(2026, 12, 24)),
    (date(2026, 12, 23), 9, 1, GERMANY, date(2026, 12, 23), date(2026, 12, 28)),
])
def test_promises_skip_weekends_and_holidays(today, hour, transit, calendar, dispatched,
                                             delivered):
    slot = promise(carrier(transit, calendar), {}, today, hour)
    assert (slot.dispatch_day, slot.promised_delivery_date) == (dispatched, delivered)


@pytest.mark.parametrize("transit, calendar, today, last_day", [
    # 2023: Christmas Eve is a Sunday, so parcels must arrive on Friday the 22nd.
    (1, GERMANY, date(2023, 12, 1), date(2023, 12, 21)),
    (2, GERMANY, date(2023, 12, 1), date(2023, 12, 20)),
    (3, GERMANY, date(2023, 12, 1), date(2023, 12, 19)),
    (0, GERMANY, date(2023, 12, 1), FRIDAY_22),
    (1, GERMANY, FRIDAY_22, None),  # too late
    # 2026: Christmas Eve is a Thursday and a carrier holiday: arrive by Wednesday 23.
    (1, GERMANY, date(2026, 12, 1), date(2026, 12, 22)),
    (1, NO_HOLIDAYS, date(2026, 12, 1), date(2026, 12, 23)),  # it delivers on the 24th
    (5, GERMANY, date(2026, 12, 1), date(2026, 12, 16)),
    # Only its own days: it delivers on the 24th unless it says otherwise.
    (1, WorkingCalendar("DE", own=("12-22",), public=False), date(2026, 12, 1),
     date(2026, 12, 23)),
    (2, WorkingCalendar("DE", own=("12-22", "12-24"), public=False), date(2026, 12, 1),
     date(2026, 12, 18)),
    # Its own day added to the public ones: closed on the 22nd and from the 24th.
    (1, WorkingCalendar("DE", own=("12-22",)), date(2026, 12, 1), date(2026, 12, 21)),
])
def test_the_last_day_to_order_for_christmas_moves_with_each_carrier(transit, calendar,
                                                                     today, last_day):
    assert last_order_date_for_christmas(transit, today, calendar) == last_day
    if last_day is not None:  # ordered that day, it arrives in time; a day later, it does not
        on_time = promise(carrier(transit, calendar, 24), {}, last_day, 9)
        assert arrives_before_christmas(on_time.promised_delivery_date, last_day)
        late = calendar.next_working_day(last_day + timedelta(days=1))
        assert not arrives_before_christmas(
            promise(carrier(transit, calendar, 24), {}, late, 9).promised_delivery_date, late)


def test_a_promise_into_january_is_not_before_christmas():
    assert arrives_before_christmas(date(2024, 1, 3), date(2023, 12, 29)) is False
    assert arrives_before_christmas(date(2023, 12, 22), date(2023, 12, 1)) is True
    assert arrives_before_christmas(date(2024, 3, 1), date(2024, 2, 1)) is True
    assert arrives_before_christmas(date(2023, 12, 27), date(2023, 12, 27)) is False


@pytest.mark.parametrize("value, fix", [
    ("12-24", "must be a list"), (["13-01"], "holidays[0]"), (["2026-02-30"], "holidays[0]"),
    (["12-24", 1], "holidays[1]"), (["24.12."], "holidays[0]"), (["12-24 "], "holidays[0]"),
    (["x" * 10_000], "holidays[0]"), (["01-01"] * 101, "at most 100")])
def test_a_malformed_holiday_list_names_the_entry(value, fix):
    with pytest.raises(ValueError, match=fix.replace("[", r"\[").replace("]", r"\]")):
        parse_holidays(value)


def test_leap_days_and_one_off_days():
    assert parse_holidays(["02-29", "2026-12-31", "02-29"]) == ("02-29", "2026-12-31")
    calendar = WorkingCalendar("DE", own=("02-29", "2026-12-31"), public=False)
    assert date(2024, 2, 29) in calendar.holidays(2024)
    assert calendar.holidays(2025) == frozenset()  # no 29 February, no one-off day
    assert calendar.holidays(2026) == {date(2026, 12, 31)}


def carriers_url(shop) -> str:
    return f"/api/v1/shops/{shop.slug}/carriers"


def test_merchant_sets_resets_and_is_refused_holidays(api, shop):
    response = api.client.post(carriers_url(shop), headers=shop.auth, json={
        "name": "Post", "daily_capacity": 5, "origin_country": "FR"})
    post = response.get_json()
    assert post["own_holidays"] is False and post["holidays"] == []
    assert post["public_holidays"] is True and post["origin_subdivision"] is None
    upcoming = {day["date"][5:]: day["name"] for day in post["upcoming_holidays"]}
    assert "07-14" in upcoming and {"01-01", "12-24", "12-25", "12-26"} <= set(upcoming)

    changed = api.client.patch(f"{carriers_url(shop)}/{post['id']}", headers=shop.auth,
                               json={"holidays": ["12-31", "12-24", "2026-12-28"]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["holidays"] == ["12-24", "12-31", "2026-12-28"]
    assert changed.get_json()["own_holidays"] is True
    upcoming = {day["date"][5:]: day["name"] for day in changed.get_json()["upcoming_holidays"]}
    assert upcoming["12-31"] == "Carrier holiday" and "07-14" in upcoming  # added, not instead

    for bad in (["13-01"], "12-24", [None], ["2026-02-30"], ["01-01"] * 101):
        refused = api.client.patch(f"{carriers_url(shop)}/{post['id']}", headers=shop.auth,
                                   json={"holidays": bad})
        assert refused.status_code == 422, bad
        assert refused.mimetype == "application/problem+json"
        assert "holidays" in refused.get_json()["detail"]

    reset = api.client.patch(f"{carriers_url(shop)}/{post['id']}", headers=shop.auth,
                             json={"holidays": None})
    assert reset.status_code == 200 and reset.get_json()["own_holidays"] is False


def test_quote_and_booking_agree_at_christmas(api, shop, app):
    """The options a shopper sees on Friday 22 December and the booking the worker makes at
    confirmation come from the same planner: the same carrier days, the same dates."""
    for name, transit, priority in (("Express", 1, 0), ("Parcel", 3, 1)):
        response = api.client.post(carriers_url(shop), headers=shop.auth, json={
            "name": name, "daily_capacity": 10, "transit_days": transit,
            "priority": priority, "cutoff_hour": 14})
        assert response.status_code == 201, response.get_json()
    api.add_product(shop, "MUG", stock=5)
    order = api.buy(shop, "MUG").get_json()
    morning = datetime(2023, 12, 22, 10)
    database = app.extensions["peakshop"].database
    with database.reading() as session:
        quoted = shipping_options(session, shop.merchant_id, "DE", 1999, "EUR", morning)
    assert [(o.carrier, o.promised_date, o.arrives_before_christmas) for o in quoted] == [
        ("Express", date(2023, 12, 27), False), ("Parcel", date(2023, 12, 29), False)]
    assert [o.last_order_date_for_christmas for o in quoted] == [None, None]
    with database.reading() as session:
        early = shipping_options(session, shop.merchant_id, "DE", 1999, "EUR",
                                 datetime(2023, 12, 18, 10))
    assert [o.last_order_date_for_christmas for o in early] == [date(2023, 12, 21),
                                                                date(2023, 12, 19)]

    with database.transaction() as session:
        assert confirm_paid_orders(session, [order["order_id"]], morning).confirmed
    with database.reading() as session:
        booked = session.get(Order, order["order_id"])
        mail = session.scalar(select(OutgoingMail).where(
            OutgoingMail.order_id == order["order_id"]))
        assert booked.promised_delivery_date == quoted[0].promised_date
        assert "expected delivery on 2023-12-27" in mail.body
        assert "will not arrive before Christmas Eve" in mail.body
        # After the cut-off the same day, the next booking leaves on Wednesday the 27th.
        [late] = book_slots(session, shop.merchant_id, 1, morning.date(), hour=15)
        assert (late.dispatch_day, late.promised_delivery_date) == (date(2023, 12, 27),
                                                                    date(2023, 12, 28))
        session.rollback()


@pytest.mark.parametrize("now", [
    datetime(2023, 12, 22, 9), datetime(2023, 12, 22, 23), datetime(2023, 12, 23, 9),
    datetime(2023, 12, 18, 10), datetime(2023, 12, 27, 0), datetime(2024, 3, 1, 12)])
def test_the_standard_option_is_the_planners_answer_for_its_hour(now):
    """A shop without carriers offers the built-in service, worked out once an hour: asked in
    any order, every hour gets the planner's own dates for that day, never another's."""
    from shop.fulfilment.booking import DEFAULT_CARRIER
    from shop.fulfilment.shipping import options_from

    expected = promise(DEFAULT_CARRIER, {}, now.date(), now.hour).promised_delivery_date
    for asked in (now, now - timedelta(days=1), now + timedelta(hours=1), now):
        [option] = options_from(None, [], "DE", 1999, "EUR", asked)
        assert option.quoted_on == asked.date()
        assert option.promised_date == promise(DEFAULT_CARRIER, {}, asked.date(),
                                               asked.hour).promised_delivery_date
        assert option.last_order_date_for_christmas == last_order_date_for_christmas(
            DEFAULT_CARRIER.transit_days, asked.date())
    [option] = options_from(None, [], "DE", 1999, "SEK", now)
    assert (option.promised_date, option.currency, option.price_amount) == (expected, "SEK", 0)
