"""A shopper's journey through a live storefront over HTTP, as in the public contract."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import requests

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Frost Lane", "city": "Rovaniemi",
           "postal_code": "96930", "country": "FI"}


@dataclass(frozen=True)
class JourneyResult:
    order_id: str
    statuses: tuple[str, ...]  # every status the order was seen in, in order
    total: dict


def expect(response: requests.Response, status: int) -> dict:
    """The JSON body of `response`, which must have `status`; else fail naming what came."""
    if response.status_code != status:
        raise AssertionError(f"{response.request.method} {response.url} -> "
                             f"{response.status_code} (wanted {status}): {response.text[:500]}")
    return response.json()


def shopper_journey(base_url: str, *, confirm_deadline_s: float = 120.0,
                    session: requests.Session | None = None) -> JourneyResult:
    """Create a merchant and a product, fill a cart, check out, poll until confirmed."""
    http = session or requests.Session()
    run = uuid.uuid4().hex[:10]
    signup = expect(http.post(f"{base_url}/api/v1/merchants", timeout=30, json={
        "name": f"Journey {run}", "email": f"owner-{run}@example.com",
        "password": "correct horse battery"}), 201)
    slug, merchant = signup["merchant"]["slug"], {"Authorization": f"Bearer {signup['token']}"}
    sku = f"SKU-{run}"
    expect(http.post(f"{base_url}/api/v1/shops/{slug}/products", headers=merchant, timeout=30,
                     json={"sku": sku, "name": "Wool socks",
                           "price": {"amount": 1999, "currency": "EUR"}, "stock": 5}), 201)
    cart_id = expect(http.post(f"{base_url}/api/v1/shops/{slug}/carts", timeout=30),
                     201)["cart_id"]
    expect(http.put(f"{base_url}/api/v1/carts/{cart_id}/items/{sku}", json={"quantity": 2},
                    timeout=30), 200)
    order = expect(http.post(f"{base_url}/api/v1/carts/{cart_id}/checkout", timeout=30,
                             headers={"Idempotency-Key": f"journey-{run}"},
                             json={"email": f"shopper-{run}@example.com",
                                   "shipping_address": ADDRESS,
                                   "payment": {"gateway": "dummy", "token": "tok_ok"}}), 201)
    shopper = {"Authorization": f"Bearer {order['access_token']}"}
    statuses = [order["status"]]
    deadline = time.monotonic() + confirm_deadline_s
    while statuses[-1] != "confirmed":
        if statuses[-1] in ("payment_failed", "cancelled") or time.monotonic() > deadline:
            raise AssertionError(f"order {order['order_id']} never confirmed: {statuses}")
        time.sleep(0.5)
        status = expect(http.get(f"{base_url}/api/v1/orders/{order['order_id']}",
                                 headers=shopper, timeout=30), 200)["status"]
        if status != statuses[-1]:
            statuses.append(status)
    return JourneyResult(order["order_id"], tuple(statuses), order["total"])
