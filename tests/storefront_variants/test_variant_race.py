"""Per-variant stock never lies: shoppers racing over real HTTP (gunicorn) for two sizes."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support.api import ADDRESS

UNITS = {"BOOT-38": 3, "BOOT-42": 5}
SHOPPERS_PER_SIZE = 20




def test_shoppers_racing_for_two_sizes_never_get_more_than_each_size_has(gunicorn_server):
    base = gunicorn_server.url + "/api/v1"
    merchant = requests.post(f"{base}/merchants", json={
        "name": "Boot Room", "email": "boots@example.com", "password": "long enough"}).json()
    slug, auth = merchant["merchant"]["slug"], {"Authorization": f"Bearer {merchant['token']}"}
    created = requests.post(f"{base}/shops/{slug}/products", headers=auth, json={
        "sku": "BOOT", "name": "Winter boot", "price": 8900,
        "variants": [{"sku": sku, "options": {"size": sku[-2:]}, "stock": units}
                     for sku, units in UNITS.items()]})
    assert created.status_code == 201, created.text
    carts = []
    for sku in UNITS:
        for _ in range(SHOPPERS_PER_SIZE):
            cart_id = requests.post(f"{base}/shops/{slug}/carts").json()["cart_id"]
            assert requests.put(f"{base}/carts/{cart_id}/items/{sku}",
                                json={"quantity": 1}).status_code == 200
            carts.append((cart_id, sku))

    start = threading.Barrier(len(carts))

    def check_out(cart: tuple[str, str]) -> tuple[str, int]:
        cart_id, sku = cart
        with requests.Session() as session:
            start.wait()
            status = session.post(f"{base}/carts/{cart_id}/checkout",
                                  headers={"Idempotency-Key": f"race-{cart_id}"},
                                  json={"email": "s@example.com", "shipping_address": ADDRESS,
                                        "payment": {"gateway": "dummy", "token": "tok_ok"}},
                                  timeout=60).status_code
        return sku, status

    with ThreadPoolExecutor(len(carts)) as pool:
        results = list(pool.map(check_out, carts))

    won = Counter(sku for sku, status in results if status == 201)
    assert won == UNITS
    assert all(status in (201, 409) for _, status in results)
    product = requests.get(f"{base}/shops/{slug}/products/BOOT").json()
    assert {v["sku"]: v["available"] for v in product["variants"]} == {sku: 0 for sku in UNITS}
    orders = requests.get(f"{base}/shops/{slug}/orders?limit=100", headers=auth).json()
    sold = Counter()
    for order in orders["items"]:
        for line in order["items"]:
            sold[line["sku"]] += line["quantity"]
    assert sold == UNITS
