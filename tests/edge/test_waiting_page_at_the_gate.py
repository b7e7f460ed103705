"""The waiting page served by the gate in front of gunicorn (`peakshop serve --gate`), in
headless Chromium with JavaScript off: the same steps and checks as the app's own page
(tests/waiting_room/test_browser.py), and the page comes from the gate (gunicorn never sees
a browser in line), while a browser let in, or holding a cart, reaches gunicorn.
"""

import re
import time

import pytest
import requests

from tests.edge.test_room_at_the_edge import switch_room
from tests.support.browser import needs_chromium
from tests.waiting_room.browsing import shopper_waits_in_line

pytestmark = pytest.mark.slow
ROOM_COOKIE = "peakshop_waiting_room"


@needs_chromium
def test_a_shopper_waits_in_line_at_the_gate_without_javascript(gated_storefront, gated_shop,
                                                                tmp_path):
    switch_room(gated_storefront, gated_shop, "on", admit_per_s=0.01)
    shopper_waits_in_line(f"{gated_storefront.url}/shops/{gated_shop.slug}/", "Gate Shop",
                          lambda: switch_room(gated_storefront, gated_shop, "off"), tmp_path,
                          served_by="peakshop-gate")


def test_a_browser_let_in_at_the_gate_gets_the_pass_as_the_apps_cookie(gated_storefront,
                                                                        gated_shop):
    url, slug = gated_storefront.url, gated_shop.slug
    switch_room(gated_storefront, gated_shop, "on", admit_per_s=0.01)
    browser = requests.Session()
    waiting = browser.get(f"{url}/shops/{slug}/", headers={"Accept": "text/html"})
    assert waiting.status_code == 503 and waiting.headers["Server"] == "peakshop-gate"
    assert waiting.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Peakshop-Waiting-Room" not in waiting.headers
    place = browser.cookies.get(ROOM_COOKIE, path=f"/shops/{slug}/")
    assert place and waiting.headers["Peakshop-Waiting-Room-Position"] == "1"
    assert re.search(r"HttpOnly; Path=/shops/[^/]+/; SameSite=Lax", waiting.headers["Set-Cookie"])

    # The line moves: the place is let in at the gate, and gunicorn serves the page.
    switch_room(gated_storefront, gated_shop, "on", admit_per_s=1000)
    let_in = browser.get(f"{url}/shops/{slug}/products/MUG")
    assert let_in.status_code == 200 and let_in.headers["Server"] == "gunicorn"
    assert "Reindeer mug" in let_in.text
    assert "public" not in let_in.headers.get("Cache-Control", "")
    pass_token = browser.cookies.get(ROOM_COOKIE, path=f"/shops/{slug}/")
    assert pass_token and pass_token != place

    # With the pass, the room stays shut for everyone else and open for this browser.
    switch_room(gated_storefront, gated_shop, "on", admit_per_s=0.01)
    stranger = requests.get(f"{url}/shops/{slug}/")
    assert stranger.status_code == 503 and stranger.headers["Server"] == "peakshop-gate"
    again = browser.get(f"{url}/shops/{slug}/")
    assert again.status_code == 200 and again.headers["Server"] == "gunicorn"
    # A pass for this shop opens no other path: a forged cookie queues at the back.
    forged = requests.get(f"{url}/shops/{slug}/", cookies={ROOM_COOKIE: pass_token + "x"})
    assert forged.status_code == 503
    assert int(forged.headers["Peakshop-Waiting-Room-Position"]) > 1


def test_a_browser_with_a_cart_never_waits_at_the_gate(gated_storefront, gated_shop):
    url, slug = gated_storefront.url, gated_shop.slug
    browser = requests.Session()
    product = browser.get(f"{url}/shops/{slug}/products/MUG")
    assert product.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', product.text)
    form = {"sku": "MUG", "quantity": "1"} | ({"csrf_token": token[1]} if token else {})
    added = browser.post(f"{url}/shops/{slug}/cart/items", data=form,
                         headers={"Sec-Fetch-Site": "same-origin"})
    assert added.status_code in (200, 303), added.text[:500]

    switch_room(gated_storefront, gated_shop, "on", admit_per_s=0.01)
    assert requests.get(f"{url}/shops/{slug}/").status_code == 503   # strangers wait
    for page in (f"/shops/{slug}/", f"/shops/{slug}/products/MUG", f"/shops/{slug}/cart"):
        seen = browser.get(url + page)
        assert seen.status_code == 200, (page, seen.status_code)
        assert seen.headers["Server"] == "gunicorn"
    # Another browser's session, or a forged one, holds no cart.
    forged = requests.get(f"{url}/shops/{slug}/",
                          cookies={"session": browser.cookies["session"][:-3] + "abc"})
    assert forged.status_code == 503


def test_crawlers_and_other_pages_are_never_answered_by_the_room(gated_storefront, gated_shop):
    url, slug = gated_storefront.url, gated_shop.slug
    switch_room(gated_storefront, gated_shop, "on", admit_per_s=0.01)
    time.sleep(0.1)
    for path in (f"/shops/{slug}/checkout", f"/shops/{slug}/status", "/status", "/healthz"):
        answer = requests.get(url + path, allow_redirects=False)
        assert answer.headers["Server"] == "gunicorn", (path, answer.status_code, answer.text[:300])
    crawler = requests.get(f"{url}/shops/{slug}/", headers={"User-Agent": "Googlebot/2.1"})
    assert crawler.headers["Server"] == "gunicorn" and crawler.status_code == 200
