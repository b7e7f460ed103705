"""schemathesis against the real server: gunicorn (`peakshop serve`) over HTTP, both databases.

It reads the served /api/v1/openapi.json, generates requests for every operation (examples,
coverage, fuzzing and stateful phases) and checks every answer: never a 5xx, and always a
status, Content-Type, headers and body that the document allows. A seeded shop, its
products, carts and a placed order give the stateful paths real data to reach.

Bounded: a fixed seed, 5 examples per operation and phase, short stateful scenarios, and a
time budget of 90 s per database (schemathesis repeats fuzzing and stateful runs until it is
spent, so the run takes that long and no longer).
`positive_data_acceptance` is left out on purpose: a schema-valid request may still be refused
for business reasons the schema cannot express (an unknown SKU, another shop's token).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from tests.support.api import ADDRESS
from tests.support.live import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance,negative_data_rejection")
MAX_EXAMPLES = 5
TIME_BUDGET_S = 90


@pytest.fixture
def live_server(database_url, redis_server, redis_client, tmp_path):
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=str(tmp_path / "instance"), workers=2)
    yield server
    server.stop()


def seed(url: str) -> dict[str, str]:
    """A shop with two products, a cart for the cart calls, one to check out, and an order."""
    owner = requests.post(f"{url}/api/v1/merchants", json={
        "name": "Fuzz Shop", "email": "fuzz@example.com", "password": "long enough"},
        timeout=10).json()
    slug, token = owner["merchant"]["slug"], owner["token"]
    auth = {"Authorization": f"Bearer {token}"}
    for sku in ("TEA", "MUG"):
        requests.post(f"{url}/api/v1/shops/{slug}/products", headers=auth, timeout=10, json={
            "sku": sku, "name": sku.title(), "price": 450, "stock": 100_000}).raise_for_status()
    requests.post(f"{url}/api/v1/shops/{slug}/carriers", headers=auth, timeout=10,
                  json={"name": "Post", "daily_capacity": 100}).raise_for_status()

    def cart_with_tea() -> str:
        cart = requests.post(f"{url}/api/v1/shops/{slug}/carts", timeout=10).json()["cart_id"]
        requests.put(f"{url}/api/v1/carts/{cart}/items/TEA", json={"quantity": 1},
                     timeout=10).raise_for_status()
        return cart

    placed = requests.post(f"{url}/api/v1/carts/{cart_with_tea()}/checkout", timeout=10, json={
        "email": "s@example.com", "shipping_address": ADDRESS,
        "payment": {"gateway": "dummy", "token": "tok_ok"}}).json()
    return {"slug": slug, "token": token, "cart": cart_with_tea(),
            "checkout_cart": cart_with_tea(), "order_id": placed["order_id"],
            "access_token": placed["access_token"]}


def config(seeded: dict[str, str]) -> str:
    return f"""
headers = {{ Authorization = "Bearer {seeded['token']}" }}

[parameters]
"path.slug" = "{seeded['slug']}"
"path.cart_id" = "{seeded['cart']}"
"path.sku" = "TEA"
"path.carrier_id" = 1

[phases.stateful]
max-steps = 5
generation = {{ max-examples = 20 }}

# Refusals the API documents as problems (414: a query past 4096 characters).
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429]

[[operations]]
include-path = "/api/v1/carts/{{cart_id}}/checkout"
parameters = {{ "path.cart_id" = "{seeded['checkout_cart']}" }}

[[operations]]
include-path = "/api/v1/orders/{{order_id}}"
headers = {{ Authorization = "Bearer {seeded['access_token']}" }}
parameters = {{ "path.order_id" = "{seeded['order_id']}" }}
"""


def test_schemathesis_finds_no_server_error_and_no_schema_break(live_server, tmp_path):
    seeded = seed(live_server.url)
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config(seeded))
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file",
         str(config_file), "run", f"{live_server.url}/api/v1/openapi.json",
         "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", "20261224",
         "--max-time", str(TIME_BUDGET_S), "--generation-database", "none",
         # One worker: hypothesis describes its filters with ast.parse, which CPython 3.11
         # can fail in two threads at once ("AST constructor recursion depth mismatch"), an
         # error of the tool, not of the server under test.
         "--workers", "1", "--report", "json", "--report-dir", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=TIME_BUDGET_S + 120,
        cwd=tmp_path)  # schemathesis keeps a cache folder in its working directory
    report = json.loads(next((tmp_path / "report").glob("*.json")).read_text())
    operations, cases = report["operations"], report["test_cases"]
    print(f"schemathesis: {operations['tested']} operations, {cases['generated']} test cases, "
          f"{len(report['failures'])} failure kinds, {report['running_time']:.0f} s, "
          f"stopped: {report['stop_reason']}")
    assert result.returncode == 0 and not report["failures"], result.stdout[-8000:]
    assert operations["tested"] == operations["total"] >= 20
    assert cases["generated"] >= 500
