"""The waiting page without Flask (what the edge gate serves) against the app's own.

Rendered both ways for the same place in line, the two pages must be the same page, and the
gate's reading of Flask's session cookie must agree with Flask on who holds a cart.
"""

import pytest

from shop.storefront.blueprint import CONTENT_SECURITY_POLICY
from shop.waiting_room import page, views
from shop.waiting_room.paths import page_browse
from shop.waiting_room.service import Admission, Outcome


@pytest.mark.parametrize(("position", "eta_s"), [(1, 100.0), (840, 4000.0), (3, 2.5),
                                                  (7, float("inf"))])
def test_the_gate_renders_the_page_the_app_renders(app, position, eta_s):
    admission = Admission(Outcome.WAIT, number=position, position=position, eta_s=eta_s,
                          shop_name="Nordpol <Geschenke> & Co")
    with app.test_request_context("/shops/nordpol/", headers={"Accept": "text/html"}):
        flask_page = views.waiting("nordpol", admission, "a-place")
        app_html = flask_page.get_data(as_text=True)
    status, headers, body = page.waiting_page("nordpol", admission, "a-place", secure=False)

    assert body.decode() == app_html
    assert "Nordpol &lt;Geschenke&gt; &amp; Co" in app_html   # escaped, both ways
    assert status == flask_page.status_code == 503
    for name in ("Content-Type", "Retry-After", "Peakshop-Waiting-Room-Position",
                 "Cache-Control"):
        assert headers[name] == flask_page.headers[name], name
    assert "Peakshop-Waiting-Room" not in headers   # a page's place lives in its cookie
    gate_cookie = dict(part.partition("=")[::2] for part in headers["Set-Cookie"].split("; "))
    app_cookie = dict(part.partition("=")[::2]
                      for part in flask_page.headers["Set-Cookie"].split("; "))
    assert gate_cookie.keys() == app_cookie.keys()
    assert {name: value for name, value in gate_cookie.items() if name != "Expires"} == \
        {name: value for name, value in app_cookie.items() if name != "Expires"}


def test_the_gate_page_has_the_storefront_security_policy():
    assert page.PAGE_SECURITY_POLICY == CONTENT_SECURITY_POLICY


def test_a_secure_visit_gets_a_secure_cookie():
    admission = Admission(Outcome.WAIT, number=1, position=1, eta_s=10.0, shop_name="A")
    _, headers, _ = page.waiting_page("a", admission, "t", secure=True)
    assert "; Secure;" in headers["Set-Cookie"]


def test_the_gate_reads_the_cart_in_flasks_session_cookie_as_flask_does(app):
    serializer = app.session_interface.get_signing_serializer(app)
    carts = page.SessionCarts(app.config["SECRET_KEY"])
    with_cart = serializer.dumps({"carts": {"acme": "cart-1"}, "shop": "acme"})
    assert carts.has_cart(with_cart, "acme")
    assert not carts.has_cart(with_cart, "other")
    assert not carts.has_cart(serializer.dumps({"shop": "acme"}), "acme")
    assert not carts.has_cart(serializer.dumps({"carts": {"acme": ""}}), "acme")
    # Forged or foreign cookies hold nothing (Flask would open an empty session).
    payload, stamp, signature = with_cart.split(".")
    for forged in (f"{payload}.{stamp}.{signature[:-2]}AA", "not-a-session", "", None,
                   "a.b.c", "..", ".eJw."):
        assert not carts.has_cart(forged, "acme")
    other_key = page.SessionCarts("another-secret-key-of-enough-length-1234")
    assert not other_key.has_cart(with_cart, "acme")
    # A session compressed by itsdangerous (a long one) reads too.
    big = serializer.dumps({"carts": {f"shop-{n}": f"cart-{n}" for n in range(20)}
                            | {"acme": "cart-x"}})
    assert big.startswith(".") and carts.has_cart(big, "acme")


@pytest.mark.parametrize(("header", "expected"), [
    ("session=abc; peakshop_waiting_room=t1", {"session": "abc", "peakshop_waiting_room": "t1"}),
    ('a="quoted"; a=second', {"a": "quoted"}),
    (";;; =x; noequals; b=; c=3", {"b": "", "c": "3"}),
    ("", {}),
    (None, {}),
])
def test_cookies_are_read_leniently(header, expected):
    assert page.cookie_values(header) == expected


def test_a_pass_replaces_the_place_in_the_cookie_header():
    assert page.with_room_cookie("session=s; peakshop_waiting_room=place; x=1", "pass") == \
        "session=s; x=1; peakshop_waiting_room=pass"
    assert page.with_room_cookie(None, "pass") == "peakshop_waiting_room=pass"


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/shops/acme/", ("acme", "/shops/<slug>/")),
    ("HEAD", "/shops/acme/products/MUG", ("acme", "/shops/<slug>/products/<sku>")),
    ("GET", "/shops/acme/cart", ("acme", "/shops/<slug>/cart")),
    ("POST", "/shops/acme/cart/items", None),
    ("POST", "/shops/acme/", None),
    ("GET", "/shops/acme/checkout", None),
    ("GET", "/shops/acme/status", None),
    ("GET", "/shops/acme", None),
    ("GET", "/shops//", None),
    ("GET", "/shops/acme/products/a/b", None),
    ("GET", "/api/v1/shops/acme/products", None),
])
def test_the_pages_that_meet_the_room_at_the_gate(method, path, expected):
    assert page_browse(method, path) == expected


def test_the_page_links_and_routes_are_the_apps(app):
    from flask import url_for

    from shop.waiting_room.paths import PAGE_BROWSE_RULES

    with app.test_request_context("/"):
        for endpoint, rule in page.LINKS.items():
            values = {"slug": "a-shop"} if "{slug}" in rule else {}
            assert page.url_for(endpoint, **values) == url_for(endpoint, **values)
        assert page.url_for("static", filename="storefront.css") == url_for(
            "static", filename="storefront.css")
    with pytest.raises(KeyError):
        page.url_for("storefront.show_checkout", slug="a-shop")   # not a link of the page
    assert set(PAGE_BROWSE_RULES.values()) <= {rule.rule for rule in app.url_map.iter_rules()}
