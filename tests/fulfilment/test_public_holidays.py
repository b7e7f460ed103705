"""Public holidays from the `holidays` package: Easter and the other moveable feasts, and a
region's own holidays for a carrier that names its region (ISO 3166-2, like DE-BY).

In 2027 Good Friday is 26 March and Easter Monday 29 March; Corpus Christi (a holiday in
Bavaria, not in Berlin) is Thursday 27 May; Epiphany (Bavaria too) is Wednesday 6 January.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from shop.core.migrate import upgrade
from shop.fulfilment.booking import CarrierOption, book_slots, promise
from shop.fulfilment.shipping import shipping_options
from shop.fulfilment.working_days import WorkingCalendar

GERMANY = WorkingCalendar("DE")
BAVARIA = WorkingCalendar("DE", "BY")
BERLIN = WorkingCalendar("DE", "BE")
MAUNDY_THURSDAY_2027 = date(2027, 3, 25)


def carrier(calendar: WorkingCalendar, transit_days: int = 1) -> CarrierOption:
    return CarrierOption(1, "Post", 100, transit_days, 24, calendar)


@pytest.mark.parametrize("today, transit, calendar, dispatched, delivered", [
    # Handed over on Maundy Thursday: Good Friday, the weekend and Easter Monday pass.
    (MAUNDY_THURSDAY_2027, 1, GERMANY, MAUNDY_THURSDAY_2027, date(2027, 3, 30)),
    (date(2027, 3, 26), 0, GERMANY, date(2027, 3, 30), date(2027, 3, 30)),
    # The same carrier without public holidays delivers on Good Friday.
    (MAUNDY_THURSDAY_2027, 1, WorkingCalendar("DE", public=False), MAUNDY_THURSDAY_2027,
     date(2027, 3, 26)),
    # Easter is everyone's: in France too (Easter Monday; Good Friday is not a holiday there).
    (MAUNDY_THURSDAY_2027, 1, WorkingCalendar("FR"), MAUNDY_THURSDAY_2027, date(2027, 3, 26)),
    (date(2027, 3, 26), 1, WorkingCalendar("FR"), date(2027, 3, 26), date(2027, 3, 30)),
    # Whit Monday 2027 is 17 May, Ascension Thursday 6 May.
    (date(2027, 5, 14), 1, GERMANY, date(2027, 5, 14), date(2027, 5, 18)),
    (date(2027, 5, 5), 1, GERMANY, date(2027, 5, 5), date(2027, 5, 7)),
    # Corpus Christi closes Bavaria's carriers, not Berlin's nor Germany's as a whole.
    (date(2027, 5, 26), 1, BAVARIA, date(2027, 5, 26), date(2027, 5, 28)),
    (date(2027, 5, 26), 1, BERLIN, date(2027, 5, 26), date(2027, 5, 27)),
    (date(2027, 5, 26), 1, GERMANY, date(2027, 5, 26), date(2027, 5, 27)),
    (date(2027, 1, 5), 1, BAVARIA, date(2027, 1, 5), date(2027, 1, 7)),
    (date(2027, 1, 5), 1, BERLIN, date(2027, 1, 5), date(2027, 1, 6)),
    # The carrier's own day adds to the public ones.
    (date(2027, 3, 24), 1, WorkingCalendar("DE", own=("2027-03-25",)), date(2027, 3, 24),
     date(2027, 3, 30)),
])
def test_moveable_and_regional_holidays_shift_the_promise(today, transit, calendar,
                                                          dispatched, delivered):
    slot = promise(carrier(calendar, transit), {}, today, 9)
    assert (slot.dispatch_day, slot.promised_delivery_date) == (dispatched, delivered)


def test_christmas_stays_closed_where_the_country_keeps_no_holiday_then():
    christmas = {date(2027, 1, 1), date(2027, 12, 24), date(2027, 12, 25), date(2027, 12, 26)}
    # Neither 24 nor 26 December is a public holiday in the United States; carriers stop.
    assert christmas <= WorkingCalendar("US").holidays(2027)
    assert date(2027, 11, 25) in WorkingCalendar("US").holidays(2027)  # Thanksgiving
    # The built-in carrier of a shop without carriers knows no country: Christmas only.
    assert WorkingCalendar(None).holidays(2027) == christmas


def carriers_url(shop) -> str:
    return f"/api/v1/shops/{shop.slug}/carriers"


def test_quote_and_booking_agree_over_easter(api, shop, app):
    """The shopper's quote on Maundy Thursday and the worker's booking come from one planner."""
    response = api.client.post(carriers_url(shop), headers=shop.auth, json={
        "name": "Post", "daily_capacity": 10, "transit_days": 1, "origin_subdivision": "DE-BY"})
    assert response.status_code == 201, response.get_json()
    database = app.extensions["peakshop"].database
    morning = datetime(2027, 3, 25, 10)
    with database.reading() as session:
        [quoted] = shipping_options(session, shop.merchant_id, "DE", 1999, "EUR", morning)
    assert quoted.promised_date == date(2027, 3, 30)
    with database.transaction() as session:
        [booked] = book_slots(session, shop.merchant_id, 1, morning.date(), hour=10)
        assert booked.promised_delivery_date == quoted.promised_date
        # Corpus Christi, Bavaria's: the Wednesday before, a parcel arrives on Friday.
        [corpus] = book_slots(session, shop.merchant_id, 1, date(2027, 5, 26), hour=10)
        assert corpus.promised_delivery_date == date(2027, 5, 28)
        session.rollback()


def test_merchant_names_the_region_and_sees_its_holidays(api, shop):
    created = api.client.post(carriers_url(shop), headers=shop.auth, json={
        "name": "Post", "daily_capacity": 10, "origin_subdivision": "de-by"})
    assert created.status_code == 201, created.get_json()
    post = created.get_json()
    assert post["origin_subdivision"] == "DE-BY"
    assert "Corpus Christi" in {day["name"] for day in post["upcoming_holidays"]}
    url = f"{carriers_url(shop)}/{post['id']}"

    berlin = api.client.patch(url, headers=shop.auth, json={"origin_subdivision": "BE"})
    assert berlin.status_code == 200 and berlin.get_json()["origin_subdivision"] == "DE-BE"
    assert "Corpus Christi" not in {day["name"] for day in berlin.get_json()["upcoming_holidays"]}

    for bad, fix in ((["DE-XX"], "DE-BY"), (["FR-75C"], "DE-BY"), ([5], "string"),
                     (["x" * 65], "64"), ([""], "DE-BY")):
        refused = api.client.patch(url, headers=shop.auth, json={"origin_subdivision": bad[0]})
        assert refused.status_code == 422, bad
        assert refused.mimetype == "application/problem+json"
        assert "origin_subdivision" in refused.get_json()["detail"], refused.get_json()
        assert fix in refused.get_json()["detail"], refused.get_json()
    # The country moves while the region stays: a region of another country means nothing.
    moved = api.client.patch(url, headers=shop.auth, json={"origin_country": "FR"})
    assert moved.status_code == 422 and "null" in moved.get_json()["detail"]
    both = api.client.patch(url, headers=shop.auth, json={"origin_country": "FR",
                                                          "origin_subdivision": None})
    assert both.status_code == 200, both.get_json()
    assert (both.get_json()["origin_country"], both.get_json()["origin_subdivision"]) == (
        "FR", None)

    works_through = api.client.patch(url, headers=shop.auth, json={
        "public_holidays": False, "holidays": ["12-25"]})
    assert works_through.status_code == 200
    assert [day["name"] for day in works_through.get_json()["upcoming_holidays"]] == [
        "Carrier holiday"]
    for bad in ("no", None, 0):
        refused = api.client.patch(url, headers=shop.auth, json={"public_holidays": bad})
        assert refused.status_code == 422, bad


def test_carriers_with_their_own_list_keep_working_by_it_after_the_upgrade(tmp_path):
    """Before, a carrier's own list replaced the public holidays; after the upgrade such a
    carrier has public holidays off, so its calendar stays what it was."""
    url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    upgrade(url, "0014")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO merchants (id, name, slug, created_at) "
                                   "VALUES (1, 'M', 'm', '2026-01-01')"))
        for carrier_id, holidays in ((1, '["12-31"]'), (2, None), (3, "null")):
            connection.execute(sa.text(
                "INSERT INTO carriers (id, merchant_id, name, priority, daily_capacity, "
                "transit_days, is_down, holidays) VALUES (:id, 1, :name, 0, 5, 1, 0, :h)"),
                {"id": carrier_id, "name": f"C{carrier_id}", "h": holidays})
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, public_holidays FROM carriers "
                                          "ORDER BY id")).all()
    engine.dispose()
    assert [(row.id, bool(row.public_holidays)) for row in rows] == [(1, False), (2, True),
                                                                      (3, True)]
