"""The gate in front of the app: who waits, what they are told, who never waits."""

import re

import pytest

from tests.waiting_room.conftest import ROOM_HEADER


def products(client, shop, **headers):
    return client.get(f"/api/v1/shops/{shop.slug}/products", headers=headers)


def test_with_the_room_off_nobody_meets_it(client, stocked_shop):
    response = products(client, stocked_shop)
    assert response.status_code == 200
    assert ROOM_HEADER not in response.headers


def test_a_visitor_beyond_the_rate_gets_a_503_with_place_eta_and_retry_after(
        client, stocked_shop, switch_room):
    switch_room(stocked_shop, "on", 0.01)
    response = products(client, stocked_shop)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "waiting_room" and body["status"] == 503
    assert body["position"] == 1 and body["eta_s"] == 100
    assert int(response.headers["Retry-After"]) >= 2
    assert response.headers[ROOM_HEADER] == body["ticket"]
    assert response.headers["Cache-Control"] == "no-store"


def test_refreshing_keeps_the_place_and_a_forged_ticket_goes_to_the_back(
        client, stocked_shop, switch_room):
    switch_room(stocked_shop, "on", 0.01)
    first = products(client, stocked_shop).get_json()
    second = products(client, stocked_shop).get_json()
    assert (first["position"], second["position"]) == (1, 2)
    again = products(client, stocked_shop, **{ROOM_HEADER: second["ticket"]}).get_json()
    assert again["position"] == 2
    # The query parameter works as well as the header.
    by_param = client.get(f"/api/v1/shops/{stocked_shop.slug}/products?waiting_room="
                          + second["ticket"]).get_json()
    assert by_param["position"] == 2
    forged = second["ticket"][:-4] + "AAAA"
    assert products(client, stocked_shop, **{ROOM_HEADER: forged}).get_json()["position"] == 3


def test_an_admitted_visitor_gets_a_pass_that_skips_the_line(client, stocked_shop, switch_room,
                                                            api):
    switch_room(stocked_shop, "on", 100_000)   # an empty line lets the first second in
    admitted = products(client, stocked_shop)
    assert admitted.status_code == 200
    pass_token = admitted.headers[ROOM_HEADER]
    switch_room(stocked_shop, "on", 0.01)       # now nobody new gets in ...
    assert products(client, stocked_shop).status_code == 503
    # ... but the pass still does, and it is for this shop only.
    assert products(client, stocked_shop, **{ROOM_HEADER: pass_token}).status_code == 200
    other = api.sign_up("Other shop")
    api.add_product(other, "HAT")
    switch_room(other, "on", 0.01)
    assert products(client, other, **{ROOM_HEADER: pass_token}).status_code == 503


def test_a_shopper_with_a_cart_or_in_checkout_is_never_turned_away(client, api, stocked_shop,
                                                                  switch_room):
    cart_id = api.new_cart(stocked_shop)
    assert api.set_item(cart_id, "MUG", 1).status_code == 200
    switch_room(stocked_shop, "on", 0.01)
    for _ in range(5):
        products(client, stocked_shop)   # a line forms
    assert client.get(f"/api/v1/carts/{cart_id}").status_code == 200
    assert api.set_item(cart_id, "MUG", 2).status_code == 200
    assert client.get(f"/api/v1/carts/{cart_id}/shipping-options?country=FI").status_code \
        in (200, 404)   # the route may not exist in every version; it is never the room
    paid = api.checkout(cart_id, key="room-test-1")
    assert paid.status_code == 201, paid.get_json()
    order = paid.get_json()
    assert api.order(order["order_id"], order["access_token"]).status_code == 200


def test_merchants_and_operations_never_wait(client, stocked_shop, switch_room):
    switch_room(stocked_shop, "on", 0.01)
    products(client, stocked_shop)
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/api/v1/shops/{stocked_shop.slug}/orders",
                      headers=stocked_shop.auth).status_code == 200
    patched = client.patch(f"/api/v1/shops/{stocked_shop.slug}/products/MUG",
                           json={"stock": 60}, headers=stocked_shop.auth)
    assert patched.status_code == 200


def test_the_waiting_page_shows_place_eta_refresh_and_status_link(client, stocked_shop,
                                                                  switch_room):
    switch_room(stocked_shop, "on", 0.01)
    page = client.get(f"/shops/{stocked_shop.slug}/")
    assert page.status_code == 503
    html = page.get_data(as_text=True)
    refresh = re.search(r'<meta http-equiv="refresh" content="(\d+)">', html)
    assert refresh and int(refresh.group(1)) == int(page.headers["Retry-After"])
    assert "Your place in line" in html and "<dd>1</dd>" in html
    assert "Estimated wait" in html and "about 2 minutes" in html
    assert 'href="/status"' in html
    assert "<script" not in html
    assert f"You are in line for {stocked_shop.slug}" not in html  # the shop's name, not slug
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("peakshop_waiting_room=") and "HttpOnly" in cookie
    assert f"Path=/shops/{stocked_shop.slug}/" in cookie
    # Reloading (the test client keeps the cookie) keeps the place.
    again = client.get(f"/shops/{stocked_shop.slug}/products/MUG").get_data(as_text=True)
    assert "<dd>1</dd>" in again


def test_a_browser_with_a_cart_skips_the_waiting_page(client, stocked_shop, switch_room):
    from tests.storefront.pages import Shopper

    Shopper(client).add_to_cart(stocked_shop.slug, "MUG", 1)
    switch_room(stocked_shop, "on", 0.01)
    assert client.get(f"/shops/{stocked_shop.slug}/").status_code == 200
    assert client.get(f"/shops/{stocked_shop.slug}/cart").status_code == 200
    assert client.get(f"/shops/{stocked_shop.slug}/checkout").status_code == 200


@pytest.mark.parametrize("agent", ["Googlebot/2.1 (+http://www.google.com/bot.html)",
                                   "Mozilla/5.0 (compatible; bingbot/2.0)"])
def test_crawlers_do_not_queue(client, stocked_shop, switch_room, agent):
    switch_room(stocked_shop, "on", 0.01)
    # A crawler is not given a place (it would refresh forever); under load it is shed first.
    assert products(client, stocked_shop, **{"User-Agent": agent}).status_code == 200


def counted(client, route: str, status: str) -> float:
    """peakshop_http_requests_total for GET `route` and `status`, as /metrics shows it."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        if family.name == "peakshop_http_requests":
            return sum(sample.value for sample in family.samples
                       if sample.name.endswith("_total")
                       and sample.labels == {"method": "GET", "route": route, "status": status})
    return 0.0


def test_waiting_answers_are_counted_in_the_request_metrics(client, stocked_shop, switch_room):
    """The JSON API's waiting answers skip Flask (gate.FastLine) but not the metrics."""
    route = "/api/v1/shops/<slug>/products/<sku>"
    before = counted(client, route, "503")
    switch_room(stocked_shop, "on", 0.01)
    for _ in range(3):
        assert client.get(f"/api/v1/shops/{stocked_shop.slug}/products/MUG").status_code == 503
    assert counted(client, route, "503") == before + 3


def test_the_fast_line_labels_match_the_routes_of_the_app(app):
    from shop.waiting_room.gate import API_BROWSE_RULES

    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert set(API_BROWSE_RULES.values()) <= rules
