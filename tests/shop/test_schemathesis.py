"""schemathesis against the real server: gunicorn (`peakshop serve`) over HTTP, both databases.

It reads the served /api/v1/openapi.json, generates requests for every operation (examples,
coverage, fuzzing and stateful phases) and checks every answer: never a 5xx, and always a
status, Content-Type, headers and body that the document allows. A seeded shop, its
products, carts and a placed order give the stateful paths real data to reach.

The routes that change what other routes answer get a shop of their own: a waiting room
switched on turns the whole shop's catalog into 503 `waiting_room` answers (as the contract
says it should), and a revoked token or a handed-over ownership would leave every later
merchant call a 401/403. The operations API is opened with an ops token, and an incident, a
breach, an event, an invitation and a webhook give its paths ids that exist.

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


OPS_TOKEN = "fuzz-ops-token-for-schemathesis"
OPS_AUTH = {"Authorization": f"Bearer {OPS_TOKEN}"}


@pytest.fixture
def live_server(database_url, redis_server, redis_client, tmp_path):
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=str(tmp_path / "instance"), workers=2,
                              extra_env={"PEAKSHOP_OPS_TOKEN": OPS_TOKEN,
                                         "PEAKSHOP_WEBHOOK_ALLOW_PRIVATE": "true"})
    yield server
    server.stop()


def sign_up(url: str, name: str) -> tuple[str, str]:
    owner = requests.post(f"{url}/api/v1/merchants", json={
        "name": name, "email": f"{name.split()[0].lower()}@example.com",
        "password": "long enough"}, timeout=10).json()
    return owner["merchant"]["slug"], owner["token"]


def created(response: requests.Response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def seed(url: str) -> dict[str, str]:
    """A shop with two products, a cart for the cart calls, one to check out, an order, an
    event, an invitation and a webhook; a team shop with a member; a shop for the waiting
    room; an incident and a breach."""
    slug, token = sign_up(url, "Fuzz Shop")
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
    event = created(requests.post(f"{url}/api/v1/shops/{slug}/events", headers=auth,
                                  timeout=10, json={"name": "Sale",
                                                    "starts_at": "2030-12-24T18:00:00+01:00",
                                                    "duration_min": 60,
                                                    "expected_peak_rps": 50}))
    invited = created(requests.post(f"{url}/api/v1/shops/{slug}/collaborators", headers=auth,
                                    timeout=10, json={"email": "new@example.com",
                                                      "role": "viewer"}))
    webhook = created(requests.post(f"{url}/api/v1/shops/{slug}/webhooks", headers=auth,
                                    timeout=10, json={"url": "http://127.0.0.1:9/hook"}))
    team_slug, team_token = sign_up(url, "Team Shop")
    member = created(requests.post(
        f"{url}/api/v1/shops/{team_slug}/collaborators", timeout=10,
        headers={"Authorization": f"Bearer {team_token}"},
        json={"email": "member@example.com", "role": "staff", "password": "long enough"}))
    room_slug, room_token = sign_up(url, "Room Shop")
    incident = created(requests.post(f"{url}/api/v1/ops/incidents", headers=OPS_AUTH,
                                     timeout=10, json={"title": "Slow checkout",
                                                       "components": ["checkout"],
                                                       "message": "Payments are slow."}))
    breach = created(requests.post(f"{url}/api/v1/ops/breaches", headers=OPS_AUTH, timeout=10,
                                   json={"title": "Lost laptop", "data_concerned": "e-mails",
                                         "detected_at": "2026-12-01T09:00:00Z"}))
    return {"slug": slug, "token": token, "cart": cart_with_tea(),
            "checkout_cart": cart_with_tea(), "order_id": placed["order_id"],
            "access_token": placed["access_token"], "event_id": event["id"],
            "invitation": invited["invitation"]["token"], "endpoint_id": webhook["id"],
            "team_slug": team_slug, "team_token": team_token, "member_id": member["id"],
            "member_token_id": member["token_id"], "room_slug": room_slug,
            "room_token": room_token, "incident_id": incident["id"], "breach_id": breach["id"]}


def config(seeded: dict[str, str]) -> str:
    return f"""
headers = {{ Authorization = "Bearer {seeded['token']}" }}

[parameters]
"path.slug" = "{seeded['slug']}"
"path.cart_id" = "{seeded['cart']}"
"path.sku" = "TEA"
"path.carrier_id" = 1
"path.event_id" = {seeded['event_id']}
"path.invitation" = "{seeded['invitation']}"
"path.endpoint_id" = "{seeded['endpoint_id']}"
"path.incident_id" = "{seeded['incident_id']}"
"path.breach_id" = "{seeded['breach_id']}"

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
include-path-regex = "^/api/v1/ops/"
headers = {{ Authorization = "Bearer {OPS_TOKEN}" }}

[[operations]]
include-path-regex = "^/api/v1/shops/[^/]+/(collaborators|ownership|tokens)"
headers = {{ Authorization = "Bearer {seeded['team_token']}" }}
[operations.parameters]
"path.slug" = "{seeded['team_slug']}"
"path.collaborator_id" = {seeded['member_id']}
"path.token_id" = {seeded['member_token_id']}

[[operations]]
include-path = "/api/v1/shops/{{slug}}/waiting-room"
headers = {{ Authorization = "Bearer {seeded['room_token']}" }}
parameters = {{ "path.slug" = "{seeded['room_slug']}" }}

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
    failures = result.stdout.find("FAILURES")
    # The failures first (a case's body can be long), then the summary.
    assert result.returncode == 0 and not report["failures"], (
        result.stdout[max(failures, 0):][:6000] + "\n...\n" + result.stdout[-3000:])
    assert operations["tested"] == operations["total"] >= 20
    assert cases["generated"] >= 500
