"""The waiting room answered by the gate in front of the real storefront (`peakshop serve
--gate`: the gate on the public port, gunicorn on a private one, a real redis-server).

A visitor in line is answered by the gate itself (its `Server` header says so, and gunicorn's
own counters do not see the request); everyone else reaches gunicorn and gets exactly what
gunicorn gives, cookies included.
"""

import time

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow
ROOM = "Peakshop-Waiting-Room"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Frost Lane", "city": "Rovaniemi",
           "postal_code": "96930", "country": "FI"}


def switch_room(server, shop, mode, admit_per_s=None):
    body = {"mode": mode} | ({"admit_per_s": admit_per_s} if admit_per_s else {})
    response = requests.put(f"{server.url}/api/v1/shops/{shop.slug}/waiting-room",
                            json=body, headers=shop.auth)
    assert response.status_code == 200, response.text
    # The in-app gate remembers "no room" for up to a second; the edge gate too.
    time.sleep(1.1)


def fill_line(server, shop):
    """The room on at one visitor per 100 s, and its first second's burst used up."""
    switch_room(server, shop, "on", admit_per_s=0.01)
    requests.get(f"{server.url}/api/v1/shops/{shop.slug}/products/MUG")


def waiting_answers_counted(server) -> float:
    total = 0.0
    for family in text_string_to_metric_families(requests.get(server.url + "/metrics").text):
        for sample in family.samples:
            if (sample.name == "peakshop_http_requests_total"
                    and sample.labels.get("status") == "503"
                    and sample.labels.get("route") == "/api/v1/shops/<slug>/products/<sku>"):
                total += sample.value
    return total


def test_a_new_visitor_waits_at_the_gate_with_a_place_an_eta_and_retry_after(
        gated_storefront, gated_shop):
    fill_line(gated_storefront, gated_shop)
    counted_before = waiting_answers_counted(gated_storefront)
    waiting = requests.get(f"{gated_storefront.url}/api/v1/shops/{gated_shop.slug}/products")

    assert waiting.status_code == 503
    assert waiting.headers["Server"] == "peakshop-gate"   # gunicorn never saw it
    assert waiting.headers["Content-Type"] == "application/problem+json"
    body = waiting.json()
    assert body["code"] == "waiting_room"
    assert body["position"] >= 1 and body["eta_s"] >= 100   # 0.01 visitors/s
    assert 2 <= int(waiting.headers["Retry-After"]) <= 60
    assert waiting.headers[ROOM] == body["ticket"]
    assert waiting.headers["Peakshop-Waiting-Room-Position"] == str(body["position"])
    # Counted in the storefront's own request metrics, as FastLine counts its answers.
    assert waiting_answers_counted(gated_storefront) == counted_before
    requests.get(f"{gated_storefront.url}/api/v1/shops/{gated_shop.slug}/products/MUG")
    assert waiting_answers_counted(gated_storefront) == counted_before + 1
    # The gate's queue is published beside the listen backlog, for the scaler.
    assert "peakshop_gate_requests_waiting" in requests.get(gated_storefront.url + "/metrics").text


def test_a_ticket_keeps_its_place_and_a_forged_one_goes_to_the_back(gated_storefront,
                                                                     gated_shop):
    fill_line(gated_storefront, gated_shop)
    product = f"{gated_storefront.url}/api/v1/shops/{gated_shop.slug}/products/MUG"
    first = requests.get(product).json()
    behind = requests.get(product).json()
    again = requests.get(product, headers={ROOM: first["ticket"]}).json()
    assert again["position"] <= first["position"] < behind["position"]
    as_query = requests.get(product, params={"waiting_room": first["ticket"]}).json()
    assert as_query["position"] == again["position"]

    payload, stamp, signature = first["ticket"].split(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for forged in (f"{forged_payload}.{stamp}.{signature}", "not-a-ticket", behind["ticket"] + "x"):
        refused = requests.get(product, headers={ROOM: forged})
        assert refused.status_code == 503
        assert refused.json()["position"] > behind["position"]   # the back of the line


def test_a_visitor_let_in_gets_what_gunicorn_gives_and_a_pass(gated_storefront, gated_shop):
    switch_room(gated_storefront, gated_shop, "on", admit_per_s=50)
    path = f"/api/v1/shops/{gated_shop.slug}/products/MUG"
    through_gate = requests.get(gated_storefront.url + path)
    direct = requests.get(gated_storefront.private_url + path)

    assert through_gate.status_code == direct.status_code == 200
    assert through_gate.headers["Server"] == "gunicorn"
    assert through_gate.json() == direct.json()
    pass_token = through_gate.headers[ROOM]
    assert "public" not in through_gate.headers.get("Cache-Control", "")
    with_pass = requests.get(gated_storefront.url + path, headers={ROOM: pass_token})
    assert with_pass.status_code == 200 and ROOM not in with_pass.headers


def test_pages_and_their_cookies_pass_through_unchanged(gated_storefront, gated_shop):
    page = f"/shops/{gated_shop.slug}/"
    through_gate = requests.get(gated_storefront.url + page)
    direct = requests.get(gated_storefront.private_url + page)
    assert through_gate.status_code == direct.status_code == 200
    assert through_gate.headers["Content-Type"] == direct.headers["Content-Type"]
    assert "Reindeer mug" in through_gate.text

    # The waiting page is the gate's own (the app's template), cookie and all.
    fill_line(gated_storefront, gated_shop)
    waiting_page = requests.get(gated_storefront.url + page)
    assert waiting_page.status_code == 503 and waiting_page.headers["Server"] == "peakshop-gate"
    assert "peakshop_waiting_room" in waiting_page.cookies
    assert 'href="/status"' in waiting_page.text


def test_a_shopper_with_a_cart_is_never_turned_away(gated_storefront, gated_shop):
    url, slug = gated_storefront.url, gated_shop.slug
    cart_id = requests.post(f"{url}/api/v1/shops/{slug}/carts").json()["cart_id"]
    fill_line(gated_storefront, gated_shop)
    assert requests.get(f"{url}/api/v1/shops/{slug}/products/MUG").status_code == 503

    added = requests.put(f"{url}/api/v1/carts/{cart_id}/items/MUG", json={"quantity": 2})
    assert added.status_code == 200, added.text
    paid = requests.post(f"{url}/api/v1/carts/{cart_id}/checkout",
                         headers={"Idempotency-Key": "edge-1"},
                         json={"email": "ada@example.com", "shipping_address": ADDRESS,
                               "payment": {"gateway": "dummy", "token": "tok_ok"}})
    assert paid.status_code == 201, paid.text
    order = paid.json()
    shown = requests.get(f"{url}/api/v1/orders/{order['order_id']}",
                         headers={"Authorization": f"Bearer {order['access_token']}"})
    assert shown.status_code == 200 and shown.json()["status"] in ("paid", "confirmed")
    # Bad input still gets the app's own problem, through the gate.
    bad = requests.put(f"{url}/api/v1/carts/{cart_id}/items/MUG", data=b"{not json",
                       headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 or bad.status_code == 422
    assert bad.headers["Content-Type"] == "application/problem+json"


def test_sigterm_stops_the_gate_and_gunicorn_behind_it(gated_storefront):
    with open(gated_storefront.pidfile) as handle:
        gunicorn = psutil.Process(int(handle.read().strip()))
    assert gunicorn.ppid() == gated_storefront.process.pid   # gunicorn runs behind the gate
    assert gated_storefront.stop() == 0
    assert not gunicorn.is_running()


def test_gunicorn_tells_the_gate_its_time_and_the_gate_keeps_it(gated_storefront, gated_shop):
    """The gate judges gunicorn's load by gunicorn's own time per request (its own clock
    would count its event-loop lag): gunicorn tells it when asked, and only then, and the
    gate strips it from the answer."""
    product = f"/api/v1/shops/{gated_shop.slug}/products/MUG"
    asked = requests.get(gated_storefront.private_url + product,
                         headers={"Peakshop-Gate-Timing": "1"})
    assert asked.status_code == 200
    assert 0.0 < float(asked.headers["Peakshop-Service-Time"]) < 30.0
    unasked = requests.get(gated_storefront.private_url + product)
    assert "Peakshop-Service-Time" not in unasked.headers
    through = requests.get(gated_storefront.url + product,
                           headers={"Peakshop-Gate-Timing": "1"})
    assert through.status_code == 200 and "Peakshop-Service-Time" not in through.headers
