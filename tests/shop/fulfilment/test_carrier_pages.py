"""The carriers pages (test client, both databases): rates typed in the shop's currency
reach the same service as PATCH .../carriers/{id}; bad amounts are 4xx pages."""

from __future__ import annotations

import pytest

from tests.shop.merchants.pages import acting_as, csrf, post_form, text

FORM = {"name": "Reindeer Express", "daily_capacity": "40", "transit_days": "1",
        "priority": "0", "origin_country": "fi", "domestic_rate": "4.90", "eu_rate": "9.90",
        "world_rate": "19.90", "free_shipping_over": "", "cutoff_hour": "15"}


@pytest.fixture
def carrier(client, team) -> dict:
    response = client.post(f"/api/v1/shops/{team['owner'].slug}/carriers",
                           headers=team["owner"].auth,
                           json={"name": "Reindeer", "daily_capacity": 9})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _edit_url(slug: str, carrier_id: int) -> str:
    return f"/merchant/shops/{slug}/carriers/{carrier_id}/edit"


def _carrier(client, owner) -> dict:
    return client.get(f"/api/v1/shops/{owner.slug}/carriers",
                      headers=owner.auth).get_json()["items"][0]


def test_a_manager_changes_rates_and_cut_off(app, client, team, carrier):
    owner, manager = team["owner"], team["manager"]
    page = acting_as(app, manager)
    listed = page.get(f"/merchant/shops/{owner.slug}/carriers")
    assert listed.status_code == 200 and "Reindeer" in text(listed)
    url = _edit_url(owner.slug, carrier["id"])
    saved = post_form(page, url, url, {**FORM, "is_down": "y"})
    assert saved.status_code == 303
    changed = _carrier(client, owner)
    assert changed["name"] == "Reindeer Express" and changed["cutoff_hour"] == 15
    assert (changed["domestic_rate"], changed["eu_rate"], changed["world_rate"]) == (
        490, 990, 1990)
    assert changed["origin_country"] == "FI" and changed["is_down"] is True
    listed = text(page.get(f"/merchant/shops/{owner.slug}/carriers"))
    assert "€4.90" in listed and "15:00" in listed and ">down<" in listed


@pytest.mark.parametrize(("changes", "expected"), [
    ({"domestic_rate": "4.999"}, "more decimals than EUR"),
    ({"eu_rate": "NaN"}, "type an amount"),
    ({"world_rate": "-1"}, "world_rate"),
    ({"world_rate": "1e30"}, "world_rate"),
    ({"cutoff_hour": "25"}, "cutoff_hour"),
    ({"daily_capacity": "many"}, "Not a valid integer"),
    ({"origin_country": "XX"}, "origin_country"),
])
def test_bad_input_is_a_4xx_page_that_keeps_it_and_changes_nothing(app, client, team,
                                                                    carrier, changes,
                                                                    expected):
    owner = team["owner"]
    url = _edit_url(owner.slug, carrier["id"])
    response = post_form(acting_as(app, owner), url, url, {**FORM, **changes})
    assert response.status_code in (400, 422) and response.mimetype == "text/html"
    assert expected in text(response)
    [(field, value)] = changes.items()
    assert f'value="{value}"' in text(response)
    assert _carrier(client, owner)["name"] == "Reindeer"


def test_staff_read_carriers_but_cannot_change_them(app, client, team, carrier):
    staff = team["staff"]
    page = acting_as(app, staff)
    listed = page.get(f"/merchant/shops/{staff.slug}/carriers")
    assert listed.status_code == 200 and ">Edit<" not in text(listed)
    url = _edit_url(staff.slug, carrier["id"])
    form = page.get(url)
    refused = page.post(url, data={"csrf_token": csrf(form.data), **FORM})
    assert refused.status_code == 403 and "a staff cannot do this" in text(refused)
    assert _carrier(client, team["owner"])["name"] == "Reindeer"


def test_another_shops_carrier_is_not_found(app, client, api, team):
    other = api.sign_up("Other Shop")
    theirs = client.post(f"/api/v1/shops/{other.slug}/carriers", headers=other.auth,
                         json={"name": "Theirs", "daily_capacity": 3}).get_json()
    page = acting_as(app, team["owner"])
    assert page.get(_edit_url(team["owner"].slug, theirs["id"])).status_code == 404
    assert page.get(f"/merchant/shops/{other.slug}/carriers").status_code == 403


def test_the_region_and_public_holidays_are_set_in_the_form(app, client, team, carrier):
    owner = team["owner"]
    page = acting_as(app, owner)
    url = _edit_url(owner.slug, carrier["id"])
    shown = text(page.get(url))
    assert "Ships from (region)" in shown and "Closed on" in shown
    assert "Christmas Eve" in shown  # the coming year's closed days, Christmas among them
    bavarian = post_form(page, url, url, {**FORM, "origin_country": "DE",
                                          "origin_subdivision": "DE-BY"})
    assert bavarian.status_code == 303
    changed = _carrier(client, owner)
    assert (changed["origin_subdivision"], changed["public_holidays"]) == ("DE-BY", True)
    shown = text(page.get(url))
    assert 'value="DE-BY"' in shown and "Corpus Christi" in shown

    refused = post_form(page, url, url, {**FORM, "origin_country": "DE",
                                         "origin_subdivision": "DE-ZZ"})
    assert refused.status_code == 422 and "DE-BY" in text(refused)
    assert _carrier(client, owner)["origin_subdivision"] == "DE-BY"

    through = post_form(page, url, url, {**FORM, "origin_country": "DE",
                                         "origin_subdivision": "",
                                         "works_on_public_holidays": "y"})
    assert through.status_code == 303
    changed = _carrier(client, owner)
    assert (changed["origin_subdivision"], changed["public_holidays"]) == (None, False)
    assert changed["upcoming_holidays"] == []
    assert "Closed on" not in text(page.get(url))
