"""Request bodies sent `Transfer-Encoding: chunked` through `peakshop serve` (gunicorn, sync
workers): a body whose chunks are malformed, or that runs past its route's limit, is refused
with a 4xx like any other bad input, never a 500, and never read cut short and processed.

Real parts: gunicorn, the app on SQLite and a real Redis; the malformed bodies go over raw
sockets, so the bytes on the wire are exactly the ones written here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import requests

from tests.support import live, raw_http
from tests.support.live import LiveServer
from tests.support.problems import PROBLEM

pytestmark = pytest.mark.slow

JSON_LIMIT = 64 * 1024  # the app's default body limit
IMPORT_LIMIT = 256 * 1024  # small, so that a file past it stays quick to send
CSV_HEADER = b"sku,name,description,category,price_amount,currency,stock\n"

MALFORMED = [
    pytest.param(b"zz\r\nabc\r\n0\r\n\r\n", id="chunk size not hex"),
    pytest.param(b"-5\r\nabc\r\n0\r\n\r\n", id="negative chunk size"),
    pytest.param(b"3\r\nabcXX0\r\n\r\n", id="chunk without its CRLF"),
]


@dataclass
class Shop:
    slug: str
    auth: dict


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live.on_sqlite(tmp_path_factory.mktemp("chunked-bodies"),
                        PEAKSHOP_MAX_IMPORT_BYTES=str(IMPORT_LIMIT)) as server:
        yield server


@pytest.fixture(scope="module")
def shop(server) -> Shop:
    signed_up = requests.post(f"{server.url}/api/v1/merchants", timeout=30, json={
        "name": "Chunked Shop", "email": "chunked@example.com", "password": "long enough"})
    assert signed_up.status_code == 201, signed_up.text
    body = signed_up.json()
    shop = Shop(body["merchant"]["slug"], {"Authorization": f"Bearer {body['token']}"})
    created = requests.post(f"{server.url}/api/v1/shops/{shop.slug}/products", timeout=30,
                            headers=shop.auth, json={
                                "sku": "MUG", "name": "Mug", "price": 450, "stock": 50})
    assert created.status_code == 201, created.text
    return shop


def send_chunked(server: LiveServer, method: str, path: str, headers: dict,
                 framed_body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send a request whose body is already framed in chunks, exactly as given; the status,
    headers and body of the answer."""
    head = [f"{method} {path} HTTP/1.1", "Host: shop", "Connection: close",
            "Transfer-Encoding: chunked", *(f"{name}: {value}" for name, value in headers.items())]
    with raw_http.connect(server.url) as client:
        client.sendall("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + framed_body)
        return raw_http.read_answer(client)


def in_chunks(body: bytes, size: int = 16 * 1024):
    """The body as a generator, which requests sends chunked (no Content-Length)."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def product_count(server: LiveServer, shop: Shop) -> int:
    export = requests.get(f"{server.url}/api/v1/shops/{shop.slug}/products/export",
                          headers=shop.auth, timeout=30)
    assert export.status_code == 200, export.text
    return len(export.content.splitlines()) - 1  # less the header


def csv_rows(count: int, prefix: str) -> bytes:
    padding = b"d" * 900  # a row of about 1 KB: a few hundred rows pass the import limit
    return CSV_HEADER + b"".join(b"%s-%04d,Row %d,%s,,100,EUR,1\n" % (prefix.encode(), n, n,
                                                                         padding)
                                 for n in range(count))


def assert_refused(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == PROBLEM, response.text[:300]
    problem = response.json()
    assert problem["status"] == status and problem["detail"], problem
    return problem


# --- malformed chunks ---------------------------------------------------------------------


@pytest.mark.parametrize("framed", MALFORMED)
@pytest.mark.parametrize(("method", "path", "content_type"), [
    ("POST", "/api/v1/merchants", "application/json"),
    ("GET", "/api/v1/status", "application/json"),
    ("POST", "/api/v1/shops/{slug}/products/import?dry_run=false", "text/csv"),
    ("POST", "/api/v1/shops/{slug}/products/MUG/images", "multipart/form-data; boundary=b"),
])
def test_malformed_chunks_to_the_api_are_a_400_problem(server, shop, framed, method, path,
                                                        content_type):
    status, headers, body = send_chunked(server, method, path.format(slug=shop.slug),
                                         {"Content-Type": content_type, **shop.auth}, framed)
    assert (status, headers.get("content-type")) == (400, PROBLEM), body[:300]
    problem = json.loads(body)
    assert problem["status"] == 400
    assert "chunked body is malformed" in problem["detail"], problem
    assert "send a valid chunked body or a Content-Length" in problem["detail"], problem


@pytest.mark.parametrize("framed", MALFORMED)
@pytest.mark.parametrize(("path", "content_type"), [
    ("/merchant/sign-in", "application/x-www-form-urlencoded"),
    ("/merchant/sign-in", "multipart/form-data; boundary=b"),
    ("/shops/{slug}/cart/items", "application/x-www-form-urlencoded"),
])
def test_malformed_chunks_to_an_html_form_are_a_400_page(server, shop, framed, path,
                                                          content_type):
    status, _headers, body = send_chunked(server, "POST", path.format(slug=shop.slug), {
        "Content-Type": content_type, "Accept": "text/html"}, framed)
    assert status == 400, body[:300]


def test_the_server_serves_on_after_malformed_chunks(server, shop):
    for _ in range(4):  # more than there are workers
        send_chunked(server, "POST", "/api/v1/merchants",
                     {"Content-Type": "application/json"}, b"zz\r\nabc\r\n0\r\n\r\n")
    assert requests.get(f"{server.url}/healthz", timeout=30).status_code == 200


# --- bodies past their route's limit ------------------------------------------------------


def test_chunked_json_past_the_limit_is_413_and_changes_nothing(server, shop):
    before = product_count(server, shop)
    body = json.dumps({"sku": "BIG", "name": "Big", "price": 450, "stock": 1,
                       "description": "x" * 4000, "tags": ["y" * 1000] * 66}).encode()
    assert JSON_LIMIT < len(body) < 2 * JSON_LIMIT
    created = requests.post(f"{server.url}/api/v1/shops/{shop.slug}/products",
                            data=in_chunks(body), timeout=30,
                            headers={**shop.auth, "Content-Type": "application/json"})
    problem = assert_refused(created, 413)
    assert str(JSON_LIMIT) in problem["detail"], problem
    assert product_count(server, shop) == before


@pytest.mark.parametrize("size", [70_000, 200_000])
def test_a_chunked_merchant_sign_up_past_the_limit_is_413(server, size):
    body = json.dumps({"name": "n" * size, "email": f"big{size}@example.com",
                       "password": "long enough"}).encode()
    signed_up = requests.post(f"{server.url}/api/v1/merchants", data=in_chunks(body),
                              timeout=30, headers={"Content-Type": "application/json"})
    assert_refused(signed_up, 413)


def test_a_chunked_cart_line_past_the_limit_is_413(server, shop):
    cart = requests.post(f"{server.url}/api/v1/shops/{shop.slug}/carts", timeout=30)
    assert cart.status_code == 201, cart.text
    line = f"{server.url}/api/v1/carts/{cart.json()['cart_id']}/items/MUG"
    body = json.dumps({"quantity": 1, "note": "z" * 200_000}).encode()
    put = requests.put(line, data=in_chunks(body), timeout=30,
                       headers={"Content-Type": "application/json"})
    assert_refused(put, 413)
    shown = requests.get(line.rsplit("/items/", 1)[0], timeout=30)
    assert shown.status_code == 200 and shown.json()["items"] == [], shown.text


def test_a_chunked_csv_import_past_the_limit_is_413_and_imports_nothing(server, shop):
    before = product_count(server, shop)
    body = csv_rows(320, "OVER")
    assert IMPORT_LIMIT < len(body) < 2 * IMPORT_LIMIT
    imported = requests.post(
        f"{server.url}/api/v1/shops/{shop.slug}/products/import?dry_run=false",
        data=in_chunks(body), timeout=60, headers={**shop.auth, "Content-Type": "text/csv"})
    problem = assert_refused(imported, 413)
    assert str(IMPORT_LIMIT) in problem["detail"], problem
    assert product_count(server, shop) == before


# --- bodies within the limit --------------------------------------------------------------


def test_a_chunked_json_body_within_the_limit_is_served(server, shop):
    signed_up = requests.post(f"{server.url}/api/v1/merchants", timeout=30, data=in_chunks(
        json.dumps({"name": "Chunked Small", "email": "small@example.com",
                    "password": "long enough"}).encode(), size=7),
        headers={"Content-Type": "application/json"})
    assert signed_up.status_code == 201, signed_up.text
    cart = requests.post(f"{server.url}/api/v1/shops/{shop.slug}/carts", timeout=30).json()
    put = requests.put(f"{server.url}/api/v1/carts/{cart['cart_id']}/items/MUG", timeout=30,
                       data=in_chunks(b'{"quantity": 2}', size=4),
                       headers={"Content-Type": "application/json"})
    assert put.status_code == 200, put.text
    assert [(line["sku"], line["quantity"]) for line in put.json()["items"]] == [("MUG", 2)]


def test_a_chunked_body_of_exactly_the_limit_is_served(server):
    """The limit is inclusive, as it is with a Content-Length: a body that ends right at it
    is whole, not refused for what might have followed."""
    document = {"name": "Exactly", "email": "exact@example.com", "password": "long enough"}
    compact = json.dumps(document).encode()
    body = compact[:-1] + b" " * (JSON_LIMIT - len(compact)) + b"}"
    assert len(body) == JSON_LIMIT
    signed_up = requests.post(f"{server.url}/api/v1/merchants", data=in_chunks(body),
                              timeout=30, headers={"Content-Type": "application/json"})
    assert signed_up.status_code == 201, signed_up.text


def test_a_chunked_csv_import_within_the_limit_is_imported(server, shop):
    before = product_count(server, shop)
    body = csv_rows(200, "UNDER")
    assert len(body) < IMPORT_LIMIT
    imported = requests.post(
        f"{server.url}/api/v1/shops/{shop.slug}/products/import?dry_run=false",
        data=in_chunks(body), timeout=60, headers={**shop.auth, "Content-Type": "text/csv"})
    assert imported.status_code == 200, imported.text[:300]
    assert imported.json()["created"] == 200 and imported.json()["errors"] == []
    assert product_count(server, shop) == before + 200
