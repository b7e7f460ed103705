"""After a rehearsal: did every order the shoppers placed end up `confirmed`?

Each placed order is read back through the shopper's own API (with the access token checkout
returned), and the merchant's order list is asked for anything still `paid` or
`pending_payment`, which also catches orders whose checkout answer never reached Locust.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

UNFINISHED = ("paid", "pending_payment")
SHOWN_UNCONFIRMED = 20
TIMEOUT_S = 10


@dataclass
class OrdersCheck:
    """Placed orders and what became of them."""

    placed: dict[str, str] = field(default_factory=dict)        # order id -> access token
    statuses: dict[str, str] = field(default_factory=dict)      # order id -> last status seen
    left_in_shop: dict[str, int] = field(default_factory=dict)  # status -> orders (max 100)
    drain_s: float | None = None

    @property
    def confirmed(self) -> int:
        return sum(status == "confirmed" for status in self.statuses.values())

    def unconfirmed(self) -> list[str]:
        return [order_id for order_id in self.placed
                if self.statuses.get(order_id) != "confirmed"]

    def to_summary(self) -> dict:
        """The orders part of summary.json."""
        missing = self.unconfirmed()
        return {"orders_placed": len(self.placed), "orders_confirmed": self.confirmed,
                "orders_not_confirmed": len(missing),
                "unconfirmed_orders": [{"order_id": order_id,
                                        "status": self.statuses.get(order_id, "unknown")}
                                       for order_id in missing[:SHOWN_UNCONFIRMED]],
                "orders_left_in_shop": self.left_in_shop,
                "drain_s": self.drain_s}


def read_placed(path: Path) -> dict[str, str]:
    """Order id -> access token from Locust's orders file (absent file: none placed)."""
    placed = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return placed
    for line in lines:
        if line.strip():
            order = json.loads(line)
            placed[order["order_id"]] = order["access_token"]
    return placed


def refresh(check: OrdersCheck, base_url: str, session: requests.Session) -> None:
    """Read the status of every order not yet seen confirmed."""
    for order_id in check.unconfirmed():
        try:
            response = session.get(f"{base_url}/api/v1/orders/{order_id}", timeout=TIMEOUT_S,
                                   headers={"Authorization": f"Bearer {check.placed[order_id]}"})
        except requests.RequestException as problem:
            check.statuses[order_id] = f"unreadable: {type(problem).__name__}"
            continue
        if response.status_code == 200:
            check.statuses[order_id] = response.json()["status"]
        else:
            check.statuses[order_id] = f"http {response.status_code}"


def left_in_shop(base_url: str, slug: str, token: str,
                 session: requests.Session) -> dict[str, int]:
    """How many of the shop's orders are still paid / pending payment (up to 100 each)."""
    counts = {}
    for status in UNFINISHED:
        try:
            response = session.get(f"{base_url}/api/v1/shops/{slug}/orders",
                                   params={"status": status, "limit": 100},
                                   timeout=TIMEOUT_S,
                                   headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException:
            counts[status] = -1   # the storefront stopped answering: unknown, not zero
            continue
        counts[status] = len(response.json()["items"]) if response.status_code == 200 else -1
    return counts


def wait_until_confirmed(check: OrdersCheck, base_url: str, *, slug: str, token: str,
                         timeout_s: float, on_wait: Callable[[float], None],
                         pending_expected: bool = False) -> OrdersCheck:
    """Poll until every placed order is confirmed and none is left unfinished, or time runs
    out; `on_wait(elapsed_s)` runs between polls (the caller samples and prints there).

    `pending_expected`: a payment provider outage was drilled, and the orders whose payment
    it refused stay pending for the shopper's retry (the checkout answered 503 and kept
    them): they are reported, not waited for."""
    started = time.monotonic()
    with requests.Session() as session:
        while True:
            refresh(check, base_url, session)
            check.left_in_shop = left_in_shop(base_url, slug, token, session)
            elapsed = time.monotonic() - started
            waited_for = {status: count for status, count in check.left_in_shop.items()
                          if not (pending_expected and status == "pending_payment")}
            if not check.unconfirmed() and not any(waited_for.values()):
                check.drain_s = elapsed
                return check
            if elapsed >= timeout_s:
                return check
            on_wait(elapsed)
