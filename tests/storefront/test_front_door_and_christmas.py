"""Two promises of the storefront checked as a shopper meets them: `/` leads to the only
shop or lists the shops, and in December the checkout names, per carrier, the last day to
order for Christmas (the page is rendered with today's date, so the expected text is worked
out from the same planner for today: in December before the deadline it must be there,
otherwise it must not)."""

from __future__ import annotations

from html import unescape

from shop.core.timeutil import utcnow
from shop.fulfilment.shipping import last_order_date_for_christmas
from shop.fulfilment.working_days import WorkingCalendar
from shop.storefront.formatting import format_date


def test_the_front_door(client, api):
    empty = client.get("/")
    assert empty.status_code == 200 and "No shop is open here yet" in empty.get_data(
        as_text=True)
    only = api.sign_up("Nordpol Geschenke")
    led = client.get("/")
    assert led.status_code == 302 and led.headers["Location"].endswith(f"/shops/{only.slug}/")
    other = api.sign_up("Elfen & Co")
    listing = unescape(client.get("/").get_data(as_text=True))
    assert f'href="/shops/{only.slug}/">Nordpol Geschenke<' in listing
    assert f'href="/shops/{other.slug}/">Elfen & Co<' in listing


def test_checkout_names_the_last_day_to_order_for_christmas(shopper, api, shop):
    for name, transit, priority in (("Express", 1, 0), ("Parcel", 5, 1)):
        created = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                                  json={"name": name, "daily_capacity": 50,
                                        "transit_days": transit, "priority": priority})
        assert created.status_code == 201, created.get_json()
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250)
    shopper.add_to_cart(shop.slug, "MUG")
    page = unescape(shopper.page(f"/shops/{shop.slug}/checkout"))
    today = utcnow().date()
    for transit in (1, 5):
        deadline = last_order_date_for_christmas(transit, today, WorkingCalendar("DE"))
        if deadline is None:  # not December, or too late this year
            continue
        assert f"Order by {format_date(deadline)} for Christmas" in page
    if today.month != 12:
        assert "for Christmas" not in page
