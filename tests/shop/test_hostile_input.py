"""Hostile input over the public HTTP surface, signed out: always a 4xx problem, never a 500.

Each class of input is sent to every route that could receive it (the routes come from the
OpenAPI document, so a route added later is covered too), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from shop.orders.models import Order
from tests.support.api import ADDRESS
from tests.support.problems import assert_refused


@pytest.fixture
def seeded(api, shop):
    """A shop with a product and a cart holding one."""
    api.add_product(shop, "TEA", stock=5)
    cart = api.new_cart(shop)
    assert api.set_item(cart, "TEA", 1).status_code == 200
    return shop, cart


def routes_with_body(client, shop, cart, *, declared: bool = True):
    """(method, url) of every POST/PUT/PATCH route, filled with real ids: those that declare
    a JSON body, or (`declared=False`) those that take none."""
    document = client.get("/api/v1/openapi.json").get_json()
    values = {"slug": shop.slug, "sku": "TEA", "cart_id": cart, "carrier_id": "1",
              "order_id": "0" * 32}
    found = []
    for path, operations in document["paths"].items():
        for method in operations:
            takes_json = "requestBody" in operations[method]
            if method in ("post", "put", "patch") and takes_json == declared:
                url = path
                for name, value in values.items():
                    url = url.replace("{" + name + "}", value)
                if "{" not in url:
                    found.append((method.upper(), url))
    assert len(found) >= (8 if declared else 1), found
    return found


DEEP = b"[" * 100_000
HOSTILE_BODIES = {
    "deeply nested arrays": DEEP,
    "deeply nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "nesting past the limit": b'{"name": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}",
    "lone surrogate": b'{"name": "\\ud800", "email": "a@example.com", "quantity": 1}',
    "lone low surrogate in a key": b'{"\\udc00": 1}',
    "NUL in text": b'{"name": "a\\u0000b", "email": "a@example.com", "quantity": 1}',
    "integer past 2^63": b'{"quantity": 9223372036854775808, "stock": 9223372036854775808}',
    "huge negative integer": b'{"quantity": -99999999999999999999999, "price": -1e30}',
    "integer of 5000 digits": b'{"quantity": ' + b"9" * 5000 + b"}",
    "float overflow": b'{"quantity": 1e400}',
    "NaN": b'{"quantity": NaN}',
    "Infinity": b'{"stock": -Infinity}',
    "bad UTF-8": b'{"name": "\xff\xfe\xc3("}',
    "UTF-16": '{"name": "x"}'.encode("utf-16"),
    "truncated": b'{"name": "x"',
    "empty": b"",
    "a bare string": b'"text"',
    "a list": b"[1, 2, 3]",
    "null": b"null",
    "wrong types": b'{"name": 1, "email": [], "password": {}, "quantity": "1", "price": "1",'
                   b' "stock": 1.5, "shipping_address": "x", "payment": true}',
    "float-ish integers": b'{"quantity": 1.0, "stock": 2e2, "daily_capacity": 1.5}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_json_bodies_are_refused_everywhere(client, seeded, name):
    shop, cart = seeded
    for method, url in routes_with_body(client, shop, cart):
        response = client.open(url, method=method, data=HOSTILE_BODIES[name],
                               content_type="application/json")
        assert_refused(response)
    for method, url in routes_with_body(client, shop, cart, declared=False):
        # A route that reads no body may ignore a harmless one, but never fails on it.
        response = client.open(url, method=method, data=HOSTILE_BODIES[name],
                               content_type="application/json")
        if response.status_code >= 400:
            assert_refused(response)


def test_deep_nesting_is_named_in_the_answer(client):
    body = assert_refused(client.post("/api/v1/merchants", data=b"[" * 50_000,
                                      content_type="application/json"), 400)
    assert body["code"] == "too_deeply_nested" and "nested deeper" in body["detail"]


def test_a_lone_surrogate_is_refused_before_any_order_exists(app, client, seeded):
    """A surrogate in any text field of a checkout is refused at the edge: nothing is stored
    that could later break the order's page, and the cart can still check out."""
    shop, cart = seeded
    raw = json.dumps({"email": "s@example.com",
                      "shipping_address": {**ADDRESS, "name": "\ud800 Ada"},
                      "payment": {"gateway": "dummy", "token": "tok_ok"}})
    body = assert_refused(client.post(f"/api/v1/carts/{cart}/checkout", data=raw,
                                      content_type="application/json"), 422)
    assert body["field"] == "shipping_address.name" and "surrogate" in body["detail"]
    with app.extensions["peakshop"].database.reading() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
    placed = client.post(f"/api/v1/carts/{cart}/checkout", json={
        "email": "s@example.com", "shipping_address": ADDRESS,
        "payment": {"gateway": "dummy", "token": "tok_ok"}})
    assert placed.status_code == 201
    order = placed.get_json()
    page = client.get(f"/api/v1/orders/{order['order_id']}",
                      headers={"Authorization": f"Bearer {order['access_token']}"})
    assert page.status_code == 200


def test_out_of_range_integers_name_the_field(client, shop):
    body = assert_refused(client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                                      data=b'{"sku": "A", "name": "x", "price": 1, '
                                           b'"stock": 9223372036854775808}',
                                      content_type="application/json"), 422)
    assert body["field"] == "stock" and "2^63" in body["detail"]


@pytest.mark.parametrize("value", ["١٢", "²", "１２", "12abc", "-1", "1.5", "1e3", " ", "0x10",
                                   "9" * 30, "99999999999999999999", "%00", "%ff", "true"])
@pytest.mark.parametrize("parameter", ["limit"])
def test_non_ascii_and_malformed_numbers_in_queries(client, shop, parameter, value):
    response = client.get(f"/api/v1/shops/{shop.slug}/products?{parameter}={value}")
    body = assert_refused(response, 400, 422)
    assert "'limit'" in body["detail"] or "control character" in body["detail"]
    orders = client.get(f"/api/v1/shops/{shop.slug}/orders?{parameter}={value}",
                        headers=shop.auth)
    assert_refused(orders, 400, 422)


@pytest.mark.parametrize("carrier_id", ["9223372036854775808", "99999999999999999999999999",
                                        "-1", "1.5", "١٢", "²", "0x1", "1e3"])
def test_numbers_in_paths_past_64_bits_or_not_ascii(client, shop, carrier_id):
    response = client.patch(f"/api/v1/shops/{shop.slug}/carriers/{carrier_id}",
                            headers=shop.auth, json={"priority": 1})
    assert_refused(response, 404)


@pytest.mark.parametrize("segment", ["9223372036854775808", "-1", "x" * 5000, "%00", "%c3%28",
                                     "%ed%a0%80", "..%2f..%2f", "١٢", "a%20b"])
def test_hostile_path_segments(client, seeded, segment):
    shop, cart = seeded
    for url in (f"/api/v1/shops/{segment}/products", f"/api/v1/shops/{shop.slug}/products/"
                f"{segment}", f"/api/v1/carts/{segment}", f"/api/v1/orders/{segment}",
                f"/api/v1/shops/{segment}/carts"):
        method = "POST" if url.endswith("/carts") else "GET"
        response = client.open(url, method=method, headers={"Authorization": "Bearer x"})
        assert_refused(response)
    response = client.put(f"/api/v1/carts/{cart}/items/{segment}", json={"quantity": 1})
    assert_refused(response)


@pytest.mark.parametrize("query", ["q=%00", "category=a%00b", "cursor=%00", "q=" + "x" * 5000,
                                   "cursor=" + "A" * 500, "limit=1&limit=%00"])
def test_hostile_query_strings(client, shop, query):
    assert_refused(client.get(f"/api/v1/shops/{shop.slug}/products?{query}"))


@pytest.mark.parametrize("query", ["q=%ed%a0%80", "q=%ff%fe", "category=%c3%28", "q=%e2%80%ae"])
def test_undecodable_query_text_is_searched_as_replacement_characters(client, shop, query):
    """Bad UTF-8 in a query decodes to U+FFFD: a harmless search that finds nothing."""
    response = client.get(f"/api/v1/shops/{shop.slug}/products?{query}")
    assert response.status_code == 200 and response.get_json()["items"] == []


def test_a_huge_string_is_refused_by_size(client, shop):
    body = {"sku": "A", "name": "x" * 70_000, "price": 1, "stock": 1}
    assert_refused(client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                               json=body), 413)
    long_name = {"name": "x" * 60_000, "email": "a@example.com", "password": "long enough"}
    assert_refused(client.post("/api/v1/merchants", json=long_name), 422)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml",
                                          "application/json; charset=latin-1",
                                          "application/json, text/plain", "*/*", "json",
                                          "application/json\x00"])
def test_wrong_content_types(client, seeded, content_type):
    shop, cart = seeded
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.put(f"/api/v1/carts/{cart}/items/TEA", data=b'{"quantity": 2}',
                          headers=headers)
    if response.status_code == 200:  # a JSON type with parameters is still JSON
        assert content_type.startswith("application/json")
    else:
        assert_refused(response, 400, 415)


def test_duplicate_content_types(client, seeded):
    shop, cart = seeded
    response = client.put(f"/api/v1/carts/{cart}/items/TEA", data=b'{"quantity": 2}',
                          headers=[("Content-Type", "text/plain"),
                                   ("Content-Type", "application/json")])
    assert response.status_code == 200 or assert_refused(response, 400, 415)
