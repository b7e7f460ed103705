"""Shedding in order of value on the storefront as production runs it (gunicorn).

The server's own signals decide: with a latency SLO of 10 microseconds, the service time a
sync worker measures for its requests puts it at the SEVERE level (four times the SLO; an add
to cart, answered before Flask, takes well under a millisecond, so a 0.1 ms SLO no longer
guaranteed it), so the test sees the order of
value without having to starve this shared machine: crawlers and anonymous browsing are
refused with a 503 and Retry-After, while carts and checkouts are served.
"""

import time

import pytest
import requests

from shop.core.migrate import upgrade
from tests.support.live import LiveServer
from tests.support.servers import RedisServer

pytestmark = pytest.mark.slow
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Frost Lane", "city": "Rovaniemi",
           "postal_code": "96930", "country": "FI"}


@pytest.fixture
def overloaded_server(tmp_path):
    redis_server = RedisServer.start()
    database_url = f"sqlite:///{tmp_path / 'peakshop.sqlite3'}"
    upgrade(database_url)
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=str(tmp_path / "instance"), workers=1,
                              extra_env={"PEAKSHOP_LATENCY_SLO_S": "0.00001"})
    yield server
    server.stop()
    redis_server.stop()


def test_overload_sheds_crawlers_and_browsing_but_serves_carts_and_checkout(overloaded_server):
    url = overloaded_server.url
    signed_up = requests.post(f"{url}/api/v1/merchants", json={
        "name": "Shed Shop", "email": "shed@example.com", "password": "long enough"}).json()
    slug, auth = signed_up["merchant"]["slug"], {
        "Authorization": f"Bearer {signed_up['token']}"}
    assert requests.post(f"{url}/api/v1/shops/{slug}/products", headers=auth, json={
        "sku": "MUG", "name": "Mug", "price": {"amount": 1250, "currency": "EUR"},
        "stock": 10}).status_code == 201
    # Before any request was timed the server knows no load: a cart can be started.
    cart_id = requests.post(f"{url}/api/v1/shops/{slug}/carts").json()["cart_id"]
    for quantity in (1, 2, 1, 2, 1):   # requests the worker times: its service time
        assert requests.put(f"{url}/api/v1/carts/{cart_id}/items/MUG",
                            json={"quantity": quantity}).status_code == 200
    time.sleep(0.6)   # the load level is re-read twice a second

    crawler = requests.get(f"{url}/api/v1/shops/{slug}/products",
                           headers={"User-Agent": "Googlebot/2.1"})
    browsing = requests.get(f"{url}/api/v1/shops/{slug}/products/MUG")
    for refused, request_class in ((crawler, "crawler"), (browsing, "anonymous_browse")):
        assert refused.status_code == 503
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) > 0
        body = refused.json()
        assert body["code"] == "overloaded"
        assert body["request_class"] == request_class
        assert body["load_level"] == "severe"

    assert requests.get(f"{url}/api/v1/carts/{cart_id}").status_code == 200
    paid = requests.post(f"{url}/api/v1/carts/{cart_id}/checkout",
                         headers={"Idempotency-Key": "shed-1"},
                         json={"email": "ada@example.com", "shipping_address": ADDRESS,
                               "payment": {"gateway": "dummy", "token": "tok_ok"}})
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "paid"
    # Operations are never shed: the scaler and the status page must see the overload.
    assert requests.get(f"{url}/metrics").status_code == 200
    assert requests.get(f"{url}/healthz").status_code == 200
    shed_page = requests.get(f"{url}/shops/{slug}/")
    assert shed_page.status_code == 503 and 'href="/status"' in shed_page.text
