"""Shoppers who keep buying through the JSON API while a test sets fire to the database."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime

from flask import Flask

from shop.core.timeutil import utcnow
from tests.support.api import ADDRESS

CHECKOUT = {"email": "ada@example.com", "shipping_address": ADDRESS,
            "payment": {"gateway": "dummy", "token": "tok_ok"}}


class OrderFlow(threading.Thread):
    """One shopper after another: cart, item, checkout, through the app in `holder[0]`
    (a test swaps in an app on the restored database). Records when each order was
    accepted (201), by the clock the database's timestamps use."""

    def __init__(self, holder: list[Flask], slug: str, sku: str):
        super().__init__(name="order-flow", daemon=True)
        self.holder, self.slug, self.sku = holder, slug, sku
        self.accepted: list[tuple[datetime, str]] = []
        self.refused = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                order_id = self._buy_one()
            except Exception:  # the database vanished mid-request: a refused order
                order_id = None
            if order_id:
                self.accepted.append((utcnow(), order_id))
            else:
                self.refused += 1
                self.stop.wait(0.1)

    def _buy_one(self) -> str | None:
        client = self.holder[0].test_client()
        cart = client.post(f"/api/v1/shops/{self.slug}/carts")
        if cart.status_code != 201:
            return None
        cart_id = cart.get_json()["cart_id"]
        if client.put(f"/api/v1/carts/{cart_id}/items/{self.sku}",
                      json={"quantity": 1}).status_code != 200:
            return None
        checkout = client.post(f"/api/v1/carts/{cart_id}/checkout", json=CHECKOUT,
                               headers={"Idempotency-Key": uuid.uuid4().hex})
        return checkout.get_json()["order_id"] if checkout.status_code == 201 else None

    def accepted_after(self, moment: datetime) -> int:
        return sum(1 for at, _ in list(self.accepted) if at > moment)

    def halt(self) -> None:
        self.stop.set()
        self.join(timeout=120)


def wait_for(condition, what: str, deadline_s: float = 300.0, interval_s: float = 0.1):
    give_up = time.monotonic() + deadline_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up after {deadline_s:.0f} s waiting for {what}")
        time.sleep(interval_s)
