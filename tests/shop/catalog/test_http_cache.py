"""HTTP caching of the catalog's JSON reads: validators, 304s, and what changes the tag."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, text

from shop.catalog.freshness import CatalogFacts, Freshness, freshness
from shop.core.http_cache import FreshnessMemo, keep_personal_private
from shop.core.timeutil import utcnow
from tests.support import catalog_cache
from tests.waiting_room.conftest import ROOM_HEADER

# The fixtures these tests share with the other HTTP-cache tests.
settings_overrides = catalog_cache.settings_overrides
mug = catalog_cache.mug


def product_url(shop, sku="MUG"):
    return f"/api/v1/shops/{shop.slug}/products/{sku}"


@contextmanager
def counted_statements(app):
    """Every SQL statement the app sends while the block runs, on both of its engines and
    on the direct statements' own connections (which SQLAlchemy's events do not see)."""
    statements: list[str] = []
    database = app.extensions["peakshop"].database
    engines = {database.engine, database.read_engine}
    reader = database.statements
    reads_first = reader.first

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    def record_read(statement, parameters):
        statements.append(str(statement))
        return reads_first(statement, parameters)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    reader.first = record_read
    try:
        yield statements
    finally:
        del reader.first
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def test_a_product_read_is_public_with_a_weak_etag(client, mug):
    response = client.get(product_url(mug))
    assert response.status_code == 200
    assert response.headers["ETag"].startswith('W/"')
    assert response.headers["Cache-Control"] == "public, max-age=5, stale-while-revalidate=10"
    assert "Set-Cookie" not in response.headers


def test_etag_round_trip_is_a_304_without_body_and_a_single_query(app, client, mug):
    first = client.get(product_url(mug))
    with counted_statements(app) as statements:
        again = client.get(product_url(mug), headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    # Decided on the freshness facts alone: the product itself was never loaded.
    assert len(statements) == 1 and "max(" in statements[0].lower()


def test_the_tag_also_matches_in_a_list_and_as_a_strong_tag(client, mug):
    etag = client.get(product_url(mug)).headers["ETag"]
    strong = etag.removeprefix("W/")
    listed = f'"nope", {etag}, "other"'
    for header in (strong, listed, "*"):
        assert client.get(product_url(mug),
                          headers={"If-None-Match": header}).status_code == 304, header


@pytest.mark.parametrize("change", [
    {"price": {"amount": 1300, "currency": "EUR"}},
    {"stock": 4},
    {"stock_delta": 3},
    {"name": "Reindeer mug, large"},
])
def test_a_merchant_change_changes_the_etag(client, mug, change):
    before = client.get(product_url(mug)).headers["ETag"]
    assert client.patch(product_url(mug), json=change, headers=mug.auth).status_code == 200
    after = client.get(product_url(mug), headers={"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["ETag"] != before


def test_a_checkout_hold_changes_available_and_the_etag(client, api, mug):
    before = client.get(product_url(mug))
    cart = api.new_cart(mug)
    assert api.set_item(cart, "MUG", 2).status_code == 200
    assert api.checkout(cart).status_code == 201
    after = client.get(product_url(mug), headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert (before.get_json()["available"], after.get_json()["available"]) == (5, 3)


def test_a_variants_stock_changes_its_products_etag(client, api, shop):
    created = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth, json={
        "sku": "SOCKS", "name": "Socks", "price": {"amount": 900, "currency": "EUR"},
        "variants": [{"sku": "SOCKS-38", "options": {"size": "38"}, "stock": 3},
                     {"sku": "SOCKS-40", "options": {"size": "40"}, "stock": 3}]})
    assert created.status_code == 201, created.get_json()
    before = client.get(product_url(shop, "SOCKS")).headers["ETag"]
    assert client.patch(product_url(shop, "SOCKS-40"), json={"stock": 0},
                        headers=shop.auth).status_code == 200
    after = client.get(product_url(shop, "SOCKS"), headers={"If-None-Match": before})
    assert after.status_code == 200 and after.get_json()["available"] == 3


def test_the_listing_revalidates_and_changes_with_a_new_product(client, api, mug):
    url = f"/api/v1/shops/{mug.slug}/products?limit=10"
    first = client.get(url)
    assert first.headers["Cache-Control"].startswith("public")
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    api.add_product(mug, "HAT")
    after = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and len(after.get_json()["items"]) == 2


def test_if_modified_since_gives_a_304_once_the_change_is_a_second_old(app, client, mug):
    fresh = client.get(product_url(mug))
    # Changed this very second: a whole-second date could not tell a later change apart.
    assert "Last-Modified" not in fresh.headers
    with app.extensions["peakshop"].database.transaction() as session:
        session.execute(text("UPDATE products SET updated_at = :then"),
                        {"then": utcnow() - timedelta(minutes=5)})
    dated = client.get(product_url(mug))
    last_modified = dated.headers["Last-Modified"]
    assert client.get(product_url(mug), headers={
        "If-Modified-Since": last_modified}).status_code == 304
    assert client.get(product_url(mug), headers={
        "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200


def test_head_gives_the_validators_without_a_body(client, mug):
    head = client.head(product_url(mug))
    assert head.status_code == 200 and head.data == b""
    etag = head.headers["ETag"]
    assert etag == client.get(product_url(mug)).headers["ETag"]
    again = client.head(product_url(mug), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("header", [
    "garbage", '"unterminated', 'W/', ",,,", "W/W/\"x\"", "\"" + "a" * 5000 + "\"",
    '"\\u0000"', "*, garbage", "Ä-not-latin", "",
])
def test_a_malformed_if_none_match_is_harmless(client, mug, header):
    response = client.get(product_url(mug), headers={"If-None-Match": header})
    assert response.status_code == 200
    assert response.get_json()["sku"] == "MUG"


@pytest.mark.parametrize("header", ["yesterday", "Mon, 99 Foo 2026 99:99:99 GMT", "0", "Ä"])
def test_a_malformed_if_modified_since_is_ignored(client, mug, header):
    response = client.get(product_url(mug), headers={"If-Modified-Since": header})
    assert response.status_code == 200 and response.get_json()["sku"] == "MUG"


def test_unknown_product_or_shop_is_a_404_problem_that_no_cache_keeps(client, mug):
    for url in (product_url(mug, "NOPE"), "/api/v1/shops/no-such-shop/products",
                "/api/v1/shops/no-such-shop/products/MUG"):
        response = client.get(url, headers={"If-None-Match": "*"})
        assert response.status_code == 404, url
        assert response.mimetype == "application/problem+json"
        assert response.headers["Cache-Control"] == "no-store"


def test_an_invalid_query_is_a_422_that_no_cache_keeps(client, mug):
    response = client.get(f"/api/v1/shops/{mug.slug}/products?limit=abc")
    assert response.status_code == 422
    assert response.headers["Cache-Control"] == "no-store"


def test_a_merchant_token_gets_the_same_public_answer(client, mug):
    anonymous = client.get(product_url(mug))
    merchant = client.get(product_url(mug), headers=mug.auth)
    assert merchant.headers["ETag"] == anonymous.headers["ETag"]
    assert merchant.get_json() == anonymous.get_json()


def test_an_answer_carrying_a_waiting_room_pass_is_never_public(client, mug):
    room = client.put(f"/api/v1/shops/{mug.slug}/waiting-room", headers=mug.auth,
                      json={"mode": "on", "admit_per_s": 100_000})
    assert room.status_code == 200  # an empty line: the visitor is let in with a pass
    admitted = client.get(product_url(mug))
    assert admitted.status_code == 200 and ROOM_HEADER in admitted.headers
    assert admitted.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("route", ["cart", "cart_json", "orders", "tokens", "plan", "metrics"])
def test_carts_orders_and_merchant_routes_are_never_public(client, api, mug, route):
    cart = api.new_cart(mug)
    api.set_item(cart, "MUG", 1)
    request = {
        "cart": ("POST", f"/api/v1/shops/{mug.slug}/carts", {}),
        "cart_json": ("GET", f"/api/v1/carts/{cart}", {}),
        "orders": ("GET", f"/api/v1/shops/{mug.slug}/orders", mug.auth),
        "tokens": ("GET", f"/api/v1/shops/{mug.slug}/tokens", mug.auth),
        "plan": ("GET", f"/api/v1/shops/{mug.slug}/plan", mug.auth),
        "metrics": ("GET", "/metrics", {}),
    }[route]
    method, url, headers = request
    response = client.open(url, method=method, headers=headers)
    assert response.status_code < 300, response.data
    assert "public" not in response.headers["Cache-Control"]
    assert "no-store" in response.headers["Cache-Control"]


def test_within_the_memo_the_facts_are_read_once(make_app, mug):
    """A crowd on one page costs one freshness query per memo window and process: within
    it a revalidation reads nothing, and a full render reads the product but not the facts
    (its new content may carry the remembered tag for that long)."""
    app = make_app(catalog_revalidation_memo_ms=600_000, catalog_rendered_memo_mb=0)
    client = app.test_client()
    etag = client.get(product_url(mug)).headers["ETag"]
    assert client.patch(product_url(mug), json={"stock": 1}, headers=mug.auth).status_code == 200
    with counted_statements(app) as statements:
        remembered = client.get(product_url(mug), headers={"If-None-Match": etag})
    assert remembered.status_code == 304 and statements == []
    with counted_statements(app) as statements:
        rendered = client.get(product_url(mug))
    assert rendered.get_json()["available"] == 1 and rendered.headers["ETag"] == etag
    assert statements and not any("max(" in statement.lower() for statement in statements)
    # Without the memo the same change is seen at once.
    fresh = make_app(catalog_revalidation_memo_ms=0).test_client()
    assert fresh.get(product_url(mug), headers={"If-None-Match": etag}).status_code == 200


def test_a_full_answer_never_trusts_the_memo_even_when_kept(make_app, mug):
    """With the rendered memo (the default) a full read always reads the facts afresh: the
    page kept before a change is never given after it, while a revalidation within the
    memo's window may still be judged on the remembered facts (docs/http-caching.md)."""
    app = make_app(catalog_revalidation_memo_ms=600_000)
    client = app.test_client()
    first = client.get(product_url(mug))
    assert client.get(product_url(mug)).data == first.data  # kept, and given again
    assert client.patch(product_url(mug), json={"stock": 1}, headers=mug.auth).status_code == 200
    again = client.get(product_url(mug))
    assert again.get_json()["available"] == 1 and again.headers["ETag"] != first.headers["ETag"]
    remembered = client.get(product_url(mug), headers={"If-None-Match": again.headers["ETag"]})
    assert remembered.status_code == 304


def test_the_memo_forgets_after_its_time_and_past_its_size():
    now = [100.0]
    memo = FreshnessMemo(1.0, max_entries=2, clock=lambda: now[0])
    tag = Freshness("a", None)
    memo.put(("p", 1), tag)
    assert memo.get(("p", 1)) is tag and memo.get(("p", 2)) is None
    now[0] += 1.0
    assert memo.get(("p", 1)) is None
    memo.put(("p", 1), tag)
    memo.put(("p", 2), tag)
    memo.put(("p", 3), tag)  # full: starts afresh
    assert memo.get(("p", 1)) is None and memo.get(("p", 3)) is tag
    FreshnessMemo(0).put(("p", 1), tag)  # a memo of 0 s keeps nothing


def test_the_last_word_keeps_personal_answers_private():
    public = ("Cache-Control", "public, max-age=5")
    cases = [
        ([public, ("Set-Cookie", "session=x")], "private, no-store"),
        ([public, ("set-cookie", "a=b")], "private, no-store"),
        ([public, (ROOM_HEADER, "pass")], "private, no-store"),
        ([public], "public, max-age=5"),
        ([("Cache-Control", "no-cache"), ("Set-Cookie", "a=b")], "no-cache"),
        ([("Content-Type", "text/html")], "no-store"),
    ]
    for given, expected in cases:
        sent = dict((name.lower(), value)
                    for name, value in keep_personal_private(given, (ROOM_HEADER,)))
        assert sent["cache-control"] == expected, given


def test_freshness_is_a_digest_of_the_facts_and_dated_only_after_a_second():
    from datetime import datetime

    changed = datetime(2026, 12, 4, 12, 0, 0, 500_000)
    facts = CatalogFacts("Shop", changed, 3, 10, 3000)
    same = freshness(facts, "page/1", changed + timedelta(seconds=0.4))
    assert same.last_modified is None  # the same second: only the tag can tell
    later = freshness(facts, "page/1", changed + timedelta(seconds=2))
    assert later.etag == same.etag and later.last_modified.tzinfo is not None
    for other in (CatalogFacts("Shop", changed, 3, 9, 3000),
                  CatalogFacts("Shop", changed, 3, 10, 2999),
                  CatalogFacts("Shop", changed, 4, 10, 3000),
                  CatalogFacts("Shop", changed + timedelta(microseconds=1), 3, 10, 3000),
                  CatalogFacts("Renamed", changed, 3, 10, 3000)):
        assert freshness(other, "page/1", changed).etag != same.etag, other
    assert freshness(facts, "page/2", changed).etag != same.etag
    empty = freshness(CatalogFacts("Shop", None, 0, 0, 0), "page/1", changed)
    assert empty.last_modified is None and empty.etag


@pytest.mark.parametrize("variable", ["PEAKSHOP_CATALOG_MAX_AGE_S", "PEAKSHOP_CATALOG_STALE_S",
                                      "PEAKSHOP_CATALOG_REVALIDATION_MEMO_MS"])
def test_cache_settings_are_read_and_a_bad_one_is_named(variable):
    from shop.core.settings import ConfigError, load_settings

    field = {"PEAKSHOP_CATALOG_MAX_AGE_S": "catalog_max_age_s",
             "PEAKSHOP_CATALOG_STALE_S": "catalog_stale_s",
             "PEAKSHOP_CATALOG_REVALIDATION_MEMO_MS": "catalog_revalidation_memo_ms"}[variable]
    assert getattr(load_settings(environ={variable: "0"}), field) == 0
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ={variable: "-1"})
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ={variable: "five"})


def test_max_age_and_stale_window_come_from_the_settings(make_app, mug):
    client = make_app(catalog_max_age_s=0, catalog_stale_s=30).test_client()
    response = client.get(product_url(mug))
    assert response.headers["Cache-Control"] == "public, max-age=0, stale-while-revalidate=30"
