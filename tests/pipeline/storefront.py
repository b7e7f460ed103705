"""A real storefront (`peakshop serve`, gunicorn) and shoppers that keep buying from it."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.pipeline.support import REPO_ROOT, wait_until
from tests.support.api import ADDRESS

CHECKOUT_BODY = {"email": "shopper@example.com", "shipping_address": ADDRESS,
                 "payment": {"gateway": "dummy", "token": "tok_ok"}}


@dataclass
class Storefront:
    process: subprocess.Popen
    url: str

    @classmethod
    def start(cls, env: dict[str, str], port: int, log_path: Path) -> Storefront:
        env = {**env, "PEAKSHOP_BIND": f"127.0.0.1:{port}", "PEAKSHOP_WEB_WORKERS": "2",
               "PEAKSHOP_WEB_THREADS": "4"}
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen([sys.executable, "-m", "peakshop.cli", "serve"], env=env,
                                       cwd=REPO_ROOT, stdout=log_file,
                                       stderr=subprocess.STDOUT)
        storefront = cls(process, f"http://127.0.0.1:{port}")
        try:
            wait_until(storefront.healthy, "the storefront to answer /healthz",
                       interval_s=0.2)
        except BaseException:
            storefront.stop()
            raise
        return storefront

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=10).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


@dataclass(frozen=True)
class Outcome:
    step: str  # cart | item | checkout
    status: int
    retry_after: str | None
    order_id: str | None


@dataclass
class Shoppers:
    """Threads that each open a cart, add a product and check out, again and again."""

    url: str
    slug: str
    sku: str
    threads: int = 3
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _running: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._stop.clear()
        self._running = [threading.Thread(target=self._shop, daemon=True)
                         for _ in range(self.threads)]
        for thread in self._running:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join(timeout=120)

    def count(self, step: str, status: int) -> int:
        return sum(1 for o in list(self.outcomes) if o.step == step and o.status == status)

    def record(self, step: str, response: requests.Response) -> Outcome:
        body = response.json() if response.headers.get("Content-Type", "").endswith(
            "json") else {}
        outcome = Outcome(step, response.status_code, response.headers.get("Retry-After"),
                          body.get("order_id") if response.status_code == 201 else None)
        self.outcomes.append(outcome)
        return outcome

    def _shop(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            response = session.post(f"{self.url}/api/v1/shops/{self.slug}/carts", timeout=60)
            if self.record("cart", response).status != 201:
                self._stop.wait(0.05)
                continue
            cart_id = response.json()["cart_id"]
            response = session.put(f"{self.url}/api/v1/carts/{cart_id}/items/{self.sku}",
                                   json={"quantity": 1}, timeout=60)
            if self.record("item", response).status != 200:
                continue
            response = session.post(f"{self.url}/api/v1/carts/{cart_id}/checkout",
                                    json=CHECKOUT_BODY, timeout=60,
                                    headers={"Idempotency-Key": uuid.uuid4().hex})
            self.record("checkout", response)
