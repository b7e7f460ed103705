"""Hostile input to the merchant, surge and operations routes, signed in: the calls get past
the door, so every value reaches the models and the services. Always a 4xx problem, never a
500, and nothing changes. On SQLite and PostgreSQL.

Each class of problem the fuzzer (tests/shop/test_schemathesis.py) or a hand probe found has
its test here: a list where a choice is expected, times at the edges of the calendar, empty
query times, the size limit named in a 413, and cells a spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.support.api import Shop
from tests.support.problems import PROBLEM, assert_refused

OPS_TOKEN = "ops-hostile-token"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}
HEADER = "sku,name,description,category,price_amount,currency,stock"


@pytest.fixture
def client(make_app, redis_client):
    """The app with the operations API open (and webhooks allowed to loopback targets), on a
    flushed Redis: a waiting room switched on by an earlier test is gone."""
    return make_app(ops_token=OPS_TOKEN, webhook_allow_private=True).test_client()


@pytest.fixture
def shop(client) -> Shop:
    response = client.post("/api/v1/merchants", json={
        "name": "Hostile Shop", "email": "hostile@example.com", "password": "long enough"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return Shop(body["merchant"]["slug"], body["token"], body["merchant"]["id"])


@pytest.fixture
def event_id(client, shop) -> int:
    response = client.post(f"/api/v1/shops/{shop.slug}/events", headers=shop.auth, json={
        "name": "Sale", "starts_at": "2030-12-24T18:00:00+01:00", "duration_min": 60,
        "expected_peak_rps": 50})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


@pytest.fixture
def incident_id(client) -> int:
    response = client.post("/api/v1/ops/incidents", headers=OPS, json={
        "title": "Slow checkout", "components": ["checkout"], "message": "Payments are slow."})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


# A valid body of each route, and the route; each field in turn gets each hostile value.
def valid_bodies(slug: str, event: int, incident: int) -> dict[tuple[str, str], dict]:
    shop = f"/api/v1/shops/{slug}"
    return {
        ("POST", f"{shop}/events"): {"name": "Launch", "starts_at": "2030-01-01T00:00:00Z",
                                     "duration_min": 10, "expected_peak_rps": 10},
        ("PATCH", f"{shop}/events/{event}"): {"name": "Launch", "duration_min": 20},
        ("PUT", f"{shop}/waiting-room"): {"mode": "on", "admit_per_s": 5},
        ("POST", f"{shop}/collaborators"): {"email": "staff@example.com", "role": "staff"},
        ("POST", f"{shop}/ownership"): {"collaborator_id": 1},
        ("PUT", f"{shop}/plan"): {"plan": "free"},
        ("POST", f"{shop}/webhooks"): {"url": "http://127.0.0.1:9/hook",
                                       "events": ["incident.opened"]},
        ("POST", f"{shop}/erasures"): {"email": "someone@example.com"},
        ("POST", "/api/v1/ops/incidents"): {"title": "T", "components": ["checkout"],
                                            "message": "M", "eta": None, "verbatim": False},
        ("POST", f"/api/v1/ops/incidents/{incident}/updates"): {"message": "M",
                                                                "status": "identified"},
        ("POST", "/api/v1/ops/breaches"): {"title": "T", "data_concerned": "e-mails",
                                           "detected_at": "2026-01-01T00:00:00Z",
                                           "decision": "pending", "subjects_affected": 1},
        ("PUT", f"/api/v1/ops/events/{event}/plan"): {"web_replicas": 1,
                                                      "ready_by": "2030-01-01T00:00:00Z"},
    }


HOSTILE_VALUES = {
    "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e309": "1e309",
    "past 2^63": "9223372036854775808", "negative": "-1", "true": "true", "a fraction": "1.5",
    "a list": "[]", "an object": "{}", "a list of objects": '[{"a": 1}]',
    "a long string": json.dumps("x" * 60_000), "NUL": '"a\\u0000b"',
}


def spliced(body: dict, field: str, raw: str) -> bytes:
    """The body as JSON text with `field`'s value replaced by raw JSON (or not-JSON) text."""
    text = json.dumps({**body, field: "__HOSTILE__"})
    return text.replace('"__HOSTILE__"', raw).encode()


def headers_for(url: str, shop: Shop) -> dict:
    return OPS if url.startswith("/api/v1/ops/") else shop.auth


def test_hostile_values_in_every_field_are_refused(client, shop, event_id, incident_id):
    bodies = valid_bodies(shop.slug, event_id, incident_id)
    for (method, url), body in bodies.items():
        for field in body:
            for name, raw in HOSTILE_VALUES.items():
                response = client.open(url, method=method, data=spliced(body, field, raw),
                                       headers={**headers_for(url, shop),
                                                "Content-Type": "application/json"})
                assert response.status_code < 500, (method, url, field, name,
                                                    response.get_data(as_text=True)[:300])
                if name in ("NaN", "Infinity", "-Infinity", "1e309", "past 2^63", "a list",
                            "an object", "a list of objects", "a long string", "NUL"):
                    assert_refused(response)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", ""])
def test_wrong_content_types_are_415(client, shop, event_id, incident_id, content_type):
    for (method, url), body in valid_bodies(shop.slug, event_id, incident_id).items():
        response = client.open(url, method=method, data=json.dumps(body),
                               headers={**headers_for(url, shop), "Content-Type": content_type})
        assert_refused(response, 415)


@pytest.mark.parametrize("name, raw", [
    ("not UTF-8", b'{"name": "\xff\xfe"}'), ("truncated", b'{"name": "x"'), ("empty", b""),
    ("a list", b"[]"), ("too large", b'{"name": "' + b"x" * 70_000 + b'"}'),
    ("an unknown field", None)])
def test_malformed_bodies_are_refused(client, shop, event_id, incident_id, name, raw):
    for (method, url), body in valid_bodies(shop.slug, event_id, incident_id).items():
        data = raw if raw is not None else json.dumps({**body, "surprise": 1}).encode()
        response = client.open(url, method=method, data=data,
                               headers={**headers_for(url, shop),
                                        "Content-Type": "application/json"})
        assert_refused(response, 400, 413, 422)


@pytest.mark.parametrize("body", [{"status": []}, {"status": {"a": 1}}, {"impact": ["outage"]}])
def test_a_list_where_an_incident_status_goes_is_422(client, incident_id, body):
    """Found by hand: a list as `status` met a set lookup and was a 500."""
    response = client.post(f"/api/v1/ops/incidents/{incident_id}/updates", headers=OPS,
                           json={"message": "Still looking", **body})
    assert assert_refused(response, 422)["field"] == next(iter(body))


@pytest.mark.parametrize("decision", [[], {}, ["notify"]])
def test_a_list_where_a_breach_decision_goes_is_422(client, decision):
    """Same class as above, in the breach register."""
    response = client.post("/api/v1/ops/breaches", headers=OPS, json={
        "title": "Lost laptop", "data_concerned": "e-mails", "decision": decision,
        "detected_at": "2026-01-01T00:00:00Z"})
    assert assert_refused(response, 422)["field"] == "decision"
    assert client.get("/api/v1/ops/breaches", headers=OPS).get_json()["items"] == []


@pytest.mark.parametrize("starts_at", [
    "9999-12-31T23:59:59Z", "9999-12-31T12:00:00+00:00", "9999-12-31T23:59:59-23:59",
    "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "10000-01-01T00:00:00Z",
    "+275760-09-13T00:00:00Z", "2030-02-30T00:00:00Z", "2030-12-24T25:00:00Z",
    "2030-12-24T18:00:00", "2030-12-24", "2030-12-24T18:00:00+99:99",
    "\u0662\u0660\u0663\u0660-12-24T18:00:00Z"])
def test_event_times_at_the_edges_of_the_calendar_are_422(client, shop, event_id, starts_at):
    """Found by hand: an event ending after the year 9999 overflowed into a 500."""
    events = f"/api/v1/shops/{shop.slug}/events"
    created = client.post(events, headers=shop.auth, json={
        "name": "Far", "starts_at": starts_at, "duration_min": 60, "expected_peak_rps": 5})
    assert assert_refused(created, 422)["detail"]
    changed = client.patch(f"{events}/{event_id}", headers=shop.auth,
                           json={"starts_at": starts_at})
    assert_refused(changed, 422)
    listed = client.get(events, headers=shop.auth).get_json()["items"]
    assert [event["starts_at"] for event in listed] == ["2030-12-24T17:00:00Z"]


def test_an_event_late_in_the_year_9999_that_still_fits_is_kept(client, shop):
    response = client.post(f"/api/v1/shops/{shop.slug}/events", headers=shop.auth, json={
        "name": "Far", "starts_at": "9999-12-01T00:00:00Z", "duration_min": 60,
        "expected_peak_rps": 5})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["ends_at"] == "9999-12-01T01:00:00Z"


@pytest.mark.parametrize("query", [
    "from=9999-12-31T23:59:59Z", "from=0001-01-01T00:00:00Z",
    "from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z", "to=", "from=&to="])
def test_the_scalers_event_window_at_the_edges_of_the_calendar(client, event_id, query):
    """Found by hand (a window past the year 9999 or before the year 1 was a 500) and by the
    fuzzer (an empty time means "left out", which the document now says)."""
    response = client.get(f"/api/v1/ops/events?{query}", headers=OPS)
    assert response.status_code == 200, response.get_json()


def test_the_document_allows_empty_query_times(client):
    schema = next(p["schema"] for p in client.get("/api/v1/openapi.json").get_json()["paths"][
        "/api/v1/ops/events"]["get"]["parameters"] if p["name"] == "to")
    assert {"type": "string", "maxLength": 0} in schema["anyOf"]


def import_csv(client, shop, body: bytes, *, dry_run: bool = False, **headers):
    return client.post(f"/api/v1/shops/{shop.slug}/products/import?dry_run={dry_run}".lower(),
                       data=body, headers={**shop.auth, "Content-Type": "text/csv", **headers})


def exported_rows(client, shop) -> list[list[str]]:
    response = client.get(f"/api/v1/shops/{shop.slug}/products/export", headers=shop.auth)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


def test_a_csv_with_a_bom_crlf_and_quoted_cells_imports(client, shop):
    body = ("\ufeff" + HEADER + "\r\n"
            + 'MUG,"Mug, ""large""","two\r\nlines",kitchen,1250,EUR,4\r\n').encode()
    report = import_csv(client, shop, body)
    assert report.status_code == 200, report.get_json()
    assert report.get_json() == {"created": 1, "updated": 0, "errors": [], "dry_run": False}
    assert exported_rows(client, shop)[1] == ["MUG", 'Mug, "large"', "two\r\nlines", "kitchen",
                                              "1250", "EUR", "4"]


@pytest.mark.parametrize("name, body, code", [
    ("empty file", b"", "invalid_csv"),
    ("only blank lines", b"\r\n\r\n", "invalid_csv_header"),
    ("Latin-1", (HEADER + "\nMUG,Caf\xe9,,,1,EUR,1\n").encode("latin-1"), "invalid_encoding"),
    ("UTF-16", (HEADER + "\n").encode("utf-16"), "invalid_encoding"),
    ("NUL", (HEADER + "\nMUG,a\x00b,,,1,EUR,1\n").encode(), "invalid_csv"),
    ("an unclosed quote", (HEADER + '\nMUG,"open,,,1,EUR,1\n').encode(), "invalid_csv"),
])
def test_unreadable_csv_files_are_422(client, shop, name, body, code):
    assert assert_refused(import_csv(client, shop, body), 422)["code"] == code


def test_a_csv_past_the_import_limit_is_413_naming_that_limit(client, shop):
    """Found by hand: the 413 named the 64 KiB JSON limit, not the import's own."""
    row = b"MUG,Mug,,,1,EUR,1\n"
    body = (HEADER + "\n").encode() + row * (10 * 1024 * 1024 // len(row))
    problem = assert_refused(import_csv(client, shop, body), 413)
    assert str(8 * 1024 * 1024) in problem["detail"]
    assert client.get(f"/api/v1/shops/{shop.slug}/products").get_json()["items"] == []


def test_a_large_csv_within_the_import_limit_is_read(client, shop):
    rows = "".join(f"SKU-{n},Product {n},{'a long description ' * 5},,100,EUR,1\n"
                   for n in range(950))
    body = (HEADER + "\n" + rows).encode()
    assert len(body) > 100 * 1024  # past the 64 KiB limit of JSON bodies
    report = import_csv(client, shop, body, dry_run=True)
    assert report.status_code == 200, report.get_json()
    assert report.get_json()["created"] == 950


# (Text fields are trimmed when stored, so a leading tab or CR never reaches a cell.)
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1,2)",
            '=HYPERLINK("http://evil.example","click")']


def test_cells_a_spreadsheet_would_run_are_neutralised_on_export(client, shop):
    """OWASP CSV injection: a cell starting with = + - @ (tab, CR) gets a leading '."""
    for number, text in enumerate(FORMULAS):
        response = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth, json={
            "sku": f"F-{number}", "name": text, "description": text, "category": text[:100],
            "price": 100, "stock": 1})
        assert response.status_code == 201, response.get_json()
    rows = exported_rows(client, shop)[1:]
    assert len(rows) == len(FORMULAS)
    for row, text in zip(rows, FORMULAS, strict=True):
        assert row[1:4] == ["'" + text] * 3
    # ...and a file exported this way imports back to the same text.
    body = client.get(f"/api/v1/shops/{shop.slug}/products/export", headers=shop.auth).data
    report = import_csv(client, shop, body)
    assert report.get_json() == {"created": 0, "updated": len(FORMULAS), "errors": [],
                                 "dry_run": False}
    names = {p["sku"]: p["name"] for p in client.get(
        f"/api/v1/shops/{shop.slug}/products?limit=100").get_json()["items"]}
    assert names == {f"F-{n}": text for n, text in enumerate(FORMULAS)}


@pytest.mark.parametrize("query", ["dry_run=maybe", "dry_run=", "dry_run=" + "x" * 3000])
def test_a_dry_run_flag_that_is_not_a_boolean_is_422(client, shop, query):
    response = client.post(f"/api/v1/shops/{shop.slug}/products/import?{query}",
                           data=(HEADER + "\nMUG,Mug,,,1,EUR,1\n").encode(),
                           headers={**shop.auth, "Content-Type": "text/csv"})
    assert_refused(response, 414, 422)
    listed = client.get(f"/api/v1/shops/{shop.slug}/products")
    assert listed.get_json()["items"] == [], listed.get_json()


@pytest.mark.slow
def test_oversized_and_chunked_csv_uploads_over_real_http(gunicorn_server):
    """Through gunicorn, where a body arrives in pieces: a 10 MB file, declared or streamed
    without a length, is a 413 problem, the worker lives on, and nothing is imported."""
    import requests

    url = gunicorn_server.url
    owner = requests.post(f"{url}/api/v1/merchants", timeout=10, json={
        "name": "Big Files", "email": "big@example.com", "password": "long enough"}).json()
    slug, auth = owner["merchant"]["slug"], {"Authorization": f"Bearer {owner['token']}"}
    row = b"MUG,Mug,,,1,EUR,1\n"
    body = (HEADER + "\n").encode() + row * (10 * 1024 * 1024 // len(row))
    target = f"{url}/api/v1/shops/{slug}/products/import"

    def chunks():
        for start in range(0, len(body), 256 * 1024):
            yield body[start:start + 256 * 1024]

    for data in (body, chunks()):
        response = requests.post(target, data=data, timeout=60,
                                 headers={**auth, "Content-Type": "text/csv"})
        assert response.status_code == 413, response.text[:300]
        assert response.headers["Content-Type"] == PROBLEM
    small = (HEADER + "\nMUG,Mug,,,1,EUR,1\n").encode()
    response = requests.post(target, data=small, timeout=10,
                             headers={**auth, "Content-Type": "text/csv; charset=utf-8"})
    assert response.status_code == 200 and response.json()["created"] == 1, response.text
    listed = requests.get(f"{url}/api/v1/shops/{slug}/products", timeout=10).json()
    assert [product["sku"] for product in listed["items"]] == ["MUG"]
