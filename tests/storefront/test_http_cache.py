"""HTTP caching of the shopper's pages: first visits shared, known browsers private.

The last test runs the storefront under gunicorn and speaks real HTTP to it (requests), as a
CDN or Ingress cache in front of it would.
"""

from __future__ import annotations

import pytest
import requests
from flask import template_rendered

from tests.storefront.pages import SAME_ORIGIN, form_posting_to
from tests.support import catalog_cache

# The fixtures these tests share with the other HTTP-cache tests.
settings_overrides = catalog_cache.settings_overrides
mug = catalog_cache.mug


def page_urls(shop):
    return [f"/shops/{shop.slug}/", f"/shops/{shop.slug}/products/MUG",
            f"/shops/{shop.slug}/?category=Kitchen&q=mug"]


def test_a_first_visit_gets_a_shared_page_without_cookie(app, mug):
    for url in page_urls(mug):
        response = app.test_client().get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"].startswith("public, max-age=")
        assert response.headers["ETag"].startswith('W/"')
        assert "Cookie" in response.vary
        assert "Set-Cookie" not in response.headers, url


def test_a_revalidated_page_is_a_304_without_rendering(app, mug):
    client = app.test_client()
    url = f"/shops/{mug.slug}/products/MUG"
    etag = client.get(url).headers["ETag"]
    rendered = []

    def record(sender, template, context, **extra):
        rendered.append(template.name)

    with template_rendered.connected_to(record, app):
        again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert rendered == []
    assert "Cookie" in again.vary and again.headers["ETag"] == etag


def test_a_price_or_stock_change_changes_the_pages_etag(app, client, mug):
    urls = page_urls(mug)[:2]
    before = {url: app.test_client().get(url).headers["ETag"] for url in urls}
    for change in ({"price": {"amount": 990, "currency": "EUR"}}, {"stock": 1}):
        assert client.patch(f"/api/v1/shops/{mug.slug}/products/MUG", json=change,
                            headers=mug.auth).status_code == 200
        for url in urls:
            after = app.test_client().get(url, headers={"If-None-Match": before[url]})
            assert after.status_code == 200, (url, change)
            before[url] = after.headers["ETag"]
    assert "1 left" in app.test_client().get(urls[1]).get_data(as_text=True)


def test_head_of_a_page(app, mug):
    url = f"/shops/{mug.slug}/products/MUG"
    head = app.test_client().head(url)
    assert head.status_code == 200 and head.data == b"" and "ETag" in head.headers
    again = app.test_client().head(url, headers={"If-None-Match": head.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("header", ["garbage", '"unterminated', "W/", ",", "*, x"])
def test_a_malformed_if_none_match_on_a_page_is_harmless(app, mug, header):
    response = app.test_client().get(f"/shops/{mug.slug}/products/MUG",
                                     headers={"If-None-Match": header})
    assert response.status_code == 200
    assert "Reindeer mug" in response.get_data(as_text=True)


def test_a_browser_with_a_session_gets_its_own_private_page(app, shopper, mug):
    shopper.add_to_cart(mug.slug, "MUG", 1)  # the browser now has a session and a cart
    for url in page_urls(mug):
        response = shopper.client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-store", url
        assert "ETag" not in response.headers
    form = form_posting_to(shopper.page(f"/shops/{mug.slug}/products/MUG"), "/cart/items")
    assert len(form.fields["csrf_token"]) > 20  # its own page carries its own token


def test_the_shared_pages_form_adds_to_cart_when_the_browser_vouches(app, mug):
    browser = app.test_client()
    form = form_posting_to(browser.get(f"/shops/{mug.slug}/products/MUG").get_data(
        as_text=True), "/cart/items")
    assert form.fields["csrf_token"] == ""
    for proof in (SAME_ORIGIN, {"Origin": "http://localhost"}):
        response = app.test_client().post(form.action, data=form.fields, headers=proof)
        assert response.status_code == 303, proof
        assert "Set-Cookie" in response.headers


@pytest.mark.parametrize("headers", [
    {}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"}, {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
])
def test_a_tokenless_post_without_the_browsers_word_is_refused(app, mug, headers):
    browser = app.test_client()
    response = browser.post(f"/shops/{mug.slug}/cart/items",
                            data={"sku": "MUG", "quantity": "1", "csrf_token": ""},
                            headers=headers)
    assert response.status_code == 403
    assert "This form has expired or was sent from another site" in \
        response.get_data(as_text=True)
    with browser.session_transaction() as session:
        assert "carts" not in session
    # The reload that the refusal asks for is this browser's own page, with a token.
    reloaded = browser.get(f"/shops/{mug.slug}/products/MUG")
    assert reloaded.headers["Cache-Control"] == "private, no-store"
    form = form_posting_to(reloaded.get_data(as_text=True), "/cart/items")
    assert browser.post(form.action, data=form.fields).status_code == 303


def test_a_wrong_token_is_refused_even_from_this_site(shopper, mug):
    shopper.add_to_cart(mug.slug, "MUG", 1)
    response = shopper.client.post(f"/shops/{mug.slug}/cart/items", headers=SAME_ORIGIN,
                                   data={"sku": "MUG", "quantity": "1", "csrf_token": "forged"})
    assert response.status_code == 403


def test_cart_checkout_and_merchant_pages_are_never_public(app, shopper, mug):
    shopper.add_to_cart(mug.slug, "MUG", 1)
    for url in (f"/shops/{mug.slug}/cart", f"/shops/{mug.slug}/checkout",
                "/merchant/sign-in", "/"):
        response = shopper.client.get(url)
        assert response.status_code in (200, 302), url
        assert "public" not in response.headers["Cache-Control"], url
    # Even a first-time visitor's empty cart is nobody's to share.
    empty = app.test_client().get(f"/shops/{mug.slug}/cart")
    assert "public" not in empty.headers["Cache-Control"]


def test_the_waiting_page_is_never_stored(app, client, mug):
    client.put(f"/api/v1/shops/{mug.slug}/waiting-room", headers=mug.auth,
               json={"mode": "on", "admit_per_s": 0.01})
    waiting = app.test_client().get(f"/shops/{mug.slug}/products/MUG")
    assert waiting.status_code == 503
    assert waiting.headers["Cache-Control"] == "no-store"


def test_pages_and_json_over_gunicorn(gunicorn_server, client, api, mug):
    """Real HTTP through gunicorn: the headers a cache in front sees, 304s without a body."""
    base = gunicorn_server.url
    for path in (f"/shops/{mug.slug}/products/MUG", f"/api/v1/shops/{mug.slug}/products/MUG",
                 f"/api/v1/shops/{mug.slug}/products"):
        first = requests.get(base + path, timeout=10)
        assert first.status_code == 200 and "Set-Cookie" not in first.headers
        assert first.headers["Cache-Control"].startswith("public")
        again = requests.get(base + path, headers={"If-None-Match": first.headers["ETag"]},
                             timeout=10)
        assert again.status_code == 304 and again.content == b""
        assert again.headers["ETag"] == first.headers["ETag"]
        head = requests.head(base + path, timeout=10)
        assert head.status_code == 200 and head.headers["ETag"] == first.headers["ETag"]
    cart = requests.post(f"{base}/api/v1/shops/{mug.slug}/carts", timeout=10)
    assert cart.status_code == 201 and "no-store" in cart.headers["Cache-Control"]


def test_a_revalidation_is_answered_before_flasks_hooks(make_app, mug):
    # Without the rendered memo, which would give the changed page below without Flask too.
    app = make_app(catalog_revalidation_memo_ms=0, catalog_rendered_memo_mb=0)
    hooks = []
    app.before_request(lambda: hooks.append(1) and None)
    client = app.test_client()
    url = f"/shops/{mug.slug}/products/MUG"
    first = client.get(url)
    assert hooks == [1] and "X-Request-Id" in first.headers
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and hooks == [1]
    # A stale tag goes on to Flask, which renders with the validators already read.
    changed = client.get(url, headers={"If-None-Match": 'W/"old"'})
    assert changed.status_code == 200 and hooks == [1, 1]
    assert changed.headers["ETag"] == first.headers["ETag"]


def test_the_waiting_room_keeps_its_line_even_for_revalidations(app, make_app, client, mug):
    url = f"/shops/{mug.slug}/products/MUG"
    api_url = f"/api/v1/shops/{mug.slug}/products/MUG"
    # Tags from another process: this one has not yet seen (and remembered) the room off.
    elsewhere = make_app().test_client()
    tags = {path: elsewhere.get(path).headers["ETag"] for path in (url, api_url)}
    client.put(f"/api/v1/shops/{mug.slug}/waiting-room", headers=mug.auth,
               json={"mode": "on", "admit_per_s": 0.01})
    for path, etag in tags.items():
        waiting = app.test_client().get(path, headers={"If-None-Match": etag})
        assert waiting.status_code == 503, path
        assert waiting.headers["Cache-Control"] == "no-store"
    # A crawler never queues; its revalidation is a 304 like any cache's.
    crawler = app.test_client().get(url, headers={"If-None-Match": tags[url],
                                                  "User-Agent": "Googlebot/2.1"})
    assert crawler.status_code == 304
