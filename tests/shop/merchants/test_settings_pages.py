"""The back-office settings page (test client, both databases): the same change as PATCH
/api/v1/shops/{slug}/settings, for owners and managers only."""

from __future__ import annotations

from tests.shop.merchants.pages import acting_as, csrf, post_form, text


def _prices_include_vat(client, owner) -> bool:
    return client.get(f"/api/v1/shops/{owner.slug}/settings",
                      headers=owner.auth).get_json()["prices_include_vat"]


def test_a_manager_switches_the_shop_to_net_prices_and_back(app, client, team):
    owner = team["owner"]
    page = acting_as(app, team["manager"])
    url = f"/merchant/shops/{owner.slug}/settings"
    shown = text(page.get(url))
    assert '<input checked id="prices-gross"' in shown and ">Settings<" in shown
    saved = post_form(page, url, url, {"prices": "net"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith(url)
    assert _prices_include_vat(client, owner) is False
    assert '<input checked id="prices-net"' in text(page.get(url))
    assert post_form(page, url, url, {"prices": "gross"}).status_code == 303
    assert _prices_include_vat(client, owner) is True
    audit = client.get(f"/api/v1/shops/{owner.slug}/audit", headers=owner.auth).get_json()
    assert [entry["action"] for entry in audit["items"]].count("settings.write") == 2


def test_a_choice_that_is_not_offered_is_a_422_page_that_changes_nothing(app, client, team):
    owner = team["owner"]
    url = f"/merchant/shops/{owner.slug}/settings"
    refused = post_form(acting_as(app, owner), url, url, {"prices": "sometimes"})
    assert refused.status_code == 422 and refused.mimetype == "text/html"
    assert _prices_include_vat(client, owner) is True


def test_staff_read_the_settings_but_cannot_change_them(app, client, team):
    staff = team["staff"]
    page = acting_as(app, staff)
    url = f"/merchant/shops/{staff.slug}/settings"
    form = page.get(url)
    assert form.status_code == 200 and "only owners and managers change them" in text(form)
    refused = page.post(url, data={"csrf_token": csrf(form.data), "prices": "net"})
    assert refused.status_code == 403
    assert _prices_include_vat(client, team["owner"]) is True


def test_the_product_form_says_which_price_to_type(app, client, api, team):
    owner = team["owner"]
    api.add_product(owner, "TREE")
    page = acting_as(app, owner)
    new_form = text(page.get(f"/merchant/shops/{owner.slug}/products/new"))
    assert "like 12.50, VAT included." in new_form
    client.patch(f"/api/v1/shops/{owner.slug}/settings", headers=owner.auth,
                 json={"prices_include_vat": False})
    for url in (f"/merchant/shops/{owner.slug}/products/new",
                f"/merchant/shops/{owner.slug}/products/TREE/edit"):
        assert "like 12.50, excl. VAT (the shop&#39;s prices are net)." in text(page.get(url))
