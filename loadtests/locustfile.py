"""peakshop under load: a crowd of shoppers and one merchant, replaying a traffic trace.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000                 (web UI)
    locust -f loadtests/locustfile.py --host URL --headless --trace flash-sale
    locust -f loadtests/locustfile.py --host URL --headless -u 100 -r 20 -t 2m      (no trace)

Shoppers follow a funnel (browse, search, category, product page, cart, checkout), one
task being one visit; each shopper starts one visit every `--pacing` seconds (an open
arrival rate, see `loadtests/arrivals.py`), so `-u 100` means 10 visits/s at the default
10 s pacing, and `--trace` sets users = rate x pacing every second (see `loadtests/shapes.py`).

Options (each also an environment variable, for Kubernetes ConfigMaps and Secrets):
  --trace / LOCUST_TRACE             a trace CSV, or christmas-week, black-friday, flash-sale,
                                     steady
  --compress / LOCUST_COMPRESS       play the trace this many times faster
  --scale / LOCUST_SCALE             multiply every rate
  --pacing / LOCUST_PACING           seconds between one shopper's visits (default 10)
  --shop / LOCUST_SHOP               slug of an existing shop (default: seed a demo shop)
  --merchant-token / LOCUST_MERCHANT_TOKEN  its API token (the merchant persona needs it)
  --decline-share / LOCUST_DECLINE_SHARE    share of checkouts paid with tok_declined (0.05)
  --timeline-file / LOCUST_TIMELINE_FILE    per-second JSON lines of offered/started/dropped...
  --orders-file / LOCUST_ORDERS_FILE        JSON lines of every order placed (id, access token)

Expected outcomes are successes, not failures: a declined card (201 payment_failed), a
sold-out product (409 insufficient_stock) and the waiting room's 503 `waiting_room`. Anything
else unexpected fails the request, and Locust then exits with status 1. Use
`--stop-timeout 30` so that a ramp-down lets running checkouts finish instead of cutting them
off.

The waiting room: each visit is a new shopper, with no pass. A visit told to wait (503
`waiting_room`) leaves its user free for its next slot and waits in its own greenlet, asking
again after `Retry-After` with its ticket, up to `MAX_WAIT_S` (also when the shape stops its
user: a crowd that thins does not leave the line with it); the recorder notes the wait it
was first predicted (`eta_s`) and the one it had. Waiting answers do not count as requests
served: the latency percentiles are those of shoppers let in.
"""

from __future__ import annotations

import functools
import logging
import random
import time
import uuid

import gevent
import gevent.local
from gevent import GreenletExit
from locust import FastHttpUser, between, events, tag, task
from locust.exception import StopUser

from loadtests import swarm
from loadtests.arrivals import PacedTimetable
from loadtests.seed import RESTOCK_UNITS, DemoShop
from loadtests.shapes import TraceShape, pacing_of

__all__ = ["MerchantUser", "ShopperUser", "TraceShape"]  # TraceShape: Locust's shape

log = logging.getLogger("peakshop.loadtests")

API = "/api/v1"
HOT_PRODUCT_SHARE = 0.3      # purchases that go for the launch product
ROOM_HEADER = "Peakshop-Waiting-Room"
MAX_WAIT_S = 600.0           # a shopper in line longer than this gives up
# Visits waiting in line, each in a greenlet of its own that outlives the user who started it:
# when a shape lowers the user count after a surge, Locust stops users, and their visitors in
# line would vanish from it all at once as if they had walked away (the line then looked
# thousands long while nobody came back to claim a turn). They wait on until let in, until
# MAX_WAIT_S, or until the test stops.
WAITING_VISITS: set[gevent.Greenlet] = set()
ADDRESS = {"name": "Load Tester", "line1": "1 Sleigh Road", "city": "Rovaniemi",
           "postal_code": "96930", "country": "FI"}


def visit(function):
    """Count a task as one visit: started, then finished ok or failed."""
    @functools.wraps(function)
    def run_visit(user) -> None:
        # A stop that raced with this user's wake-up is delivered here, before anything is
        # sent, instead of cutting a checkout off half-way.
        gevent.sleep(0)
        swarm.recorder.visit_started(late=user.timetable.is_late(time.time()))
        user.new_visitor()
        try:
            function(user)
        except GreenletExit:
            raise  # stopped by the test, not a failed visit
        except InLine as place:
            swarm.recorder.joined_line()
            user.wait_in_line(function, place)
            return
        except Exception:
            swarm.recorder.visit_finished(False)
            raise
        swarm.recorder.visit_finished(user.visit_ok)
    return run_visit


@events.test_stop.add_listener
def stop_waiting_visits(environment, **_kwargs) -> None:
    gevent.killall(list(WAITING_VISITS), block=False)


class InLine(Exception):  # noqa: N818 (a visit's state, not an error)
    """The waiting room's answer: the ticket to send back, the ETA, when to ask again."""

    def __init__(self, ticket: str, eta_s: float, retry_after_s: float) -> None:
        super().__init__(f"in line, about {eta_s:.0f} s to go")
        self.ticket = ticket
        self.eta_s = eta_s
        self.retry_after_s = retry_after_s


def problem_code(response) -> str | None:
    """The problem+json `code` (or the tail of its `type`) of an error response."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    return body.get("code") or str(body.get("type", "")).rsplit("/", 1)[-1] or None


class ShopClient:
    """What both personas share: the shop, and a check that turns surprises into failures."""

    shop: DemoShop
    visit_ok: bool = True

    def expect(self, response, *statuses: int) -> bool:
        """Mark the response a success if its status is one of `statuses`, else a failure;
        the waiting room's answer raises InLine."""
        if response.status_code == 503 and problem_code(response) == "waiting_room":
            response.success()
            raise self.in_line(response)
        if response.status_code in statuses:
            response.success()
            return True
        detail = (response.text or "")[:200].replace("\n", " ")
        response.failure(f"expected {'/'.join(map(str, statuses))}, got "
                         f"{response.status_code}: {detail}")
        self.visit_ok = False
        return False


class ShopperUser(ShopClient, FastHttpUser):
    """A shopper: many browse, some fill a cart, few buy; one task is one visit."""

    def on_start(self) -> None:
        # One visit is one shopper; a shopper waiting in line runs in a greenlet of its own,
        # so what a visit carries (its ticket, whether it went well) is greenlet-local.
        self.visitor = gevent.local.local()
        self.shop = swarm.board.wait()
        options = self.environment.parsed_options
        self.timetable = PacedTimetable(pacing_of(options))
        self.decline_share = float(getattr(options, "decline_share", 0.05) or 0.0)
        self.wait()  # until this shopper's first slot, at a random phase

    def wait_time(self) -> float:
        return self.timetable.next_wait(time.time(), random.random(),
                                        swarm.recorder.arrivals_dropped)

    # --- the waiting room --------------------------------------------------------------------
    @property
    def visit_ok(self) -> bool:
        return getattr(self.visitor, "ok", True)

    @visit_ok.setter
    def visit_ok(self, value: bool) -> None:
        self.visitor.ok = value

    def new_visitor(self) -> None:
        """A new shopper: no ticket, no pass, nothing failed yet."""
        self.visitor.ticket = None
        self.visitor.ok = True

    def room_headers(self) -> dict[str, str]:
        ticket = getattr(self.visitor, "ticket", None)
        return {ROOM_HEADER: ticket} if ticket else {}

    def keep_pass(self, response) -> None:
        """Keep the pass (or place) the room handed over, for the visit's next requests."""
        handed = response.headers.get(ROOM_HEADER) if response.headers else None
        if handed:
            self.visitor.ticket = handed

    def in_line(self, response) -> InLine:
        body = response.json()
        position, eta_s = body.get("position"), body.get("eta_s")
        complete = isinstance(position, int) and isinstance(eta_s, int | float)
        swarm.recorder.waiting_answer(complete)
        if not complete:
            response.failure(f"waiting room answer without position or eta_s: {body}")
        retry_after = float(response.headers.get("Retry-After") or 5)
        return InLine(body.get("ticket") or response.headers.get(ROOM_HEADER, ""),
                      float(eta_s or 0), retry_after)

    def wait_in_line(self, function, place: InLine) -> None:
        """Wait for the visit's turn in a greenlet of its own, then make the visit."""
        def waiting() -> None:
            arrived, predicted = time.time(), place.eta_s
            self.new_visitor()
            self.visitor.ticket, retry_after = place.ticket, place.retry_after_s
            while time.time() - arrived < MAX_WAIT_S:
                gevent.sleep(retry_after)
                try:
                    function(self)
                except InLine as again:
                    self.visitor.ticket, retry_after = again.ticket, again.retry_after_s
                    continue
                except GreenletExit:
                    raise
                except Exception:
                    swarm.recorder.visit_finished(False)
                    return
                swarm.recorder.left_line(predicted, time.time() - arrived)
                swarm.recorder.visit_finished(self.visit_ok)
                return
            swarm.recorder.visit_finished(False)  # gave up

        greenlet = gevent.spawn(waiting)
        WAITING_VISITS.add(greenlet)
        greenlet.link(WAITING_VISITS.discard)

    @property
    def products(self) -> str:
        return f"{API}/shops/{self.shop.slug}/products"

    @tag("browse")
    @task(30)
    @visit
    def browse_catalog(self) -> None:
        self.product_list("limit=20", "")

    @tag("browse")
    @task(14)
    @visit
    def search(self) -> None:
        self.product_list(f"q={random.choice(self.shop.catalog.search_words)}", "?q=[word]")

    @tag("browse")
    @task(14)
    @visit
    def browse_category(self) -> None:
        self.product_list(f"category={random.choice(self.shop.catalog.categories)}",
                          "?category=[category]")

    def product_list(self, query: str, grouped_query: str) -> None:
        """One page of the catalog; Locust groups the requests by `grouped_query`."""
        with self.client.get(f"{self.products}?{query}", catch_response=True,
                             headers=self.room_headers(),
                             name=f"{API}/shops/[slug]/products{grouped_query}") as response:
            self.expect(response, 200)
            self.keep_pass(response)

    @tag("browse")
    @task(28)
    @visit
    def view_product(self) -> None:
        self.product_page(self.pick_sku())

    @tag("cart")
    @task(10)
    @visit
    def fill_cart(self) -> None:
        """Put something in a cart, look at it, and leave (most carts are abandoned)."""
        cart_id = self.new_cart()
        if cart_id and self.add_item(cart_id, self.pick_sku()):
            with self.client.get(f"{API}/carts/{cart_id}", catch_response=True,
                                 name=f"{API}/carts/[cart_id]") as response:
                self.expect(response, 200)

    @tag("buy")
    @task(4)
    @visit
    def buy(self) -> None:
        """Cart, checkout with the dummy gateway, then the order page."""
        cart_id = self.new_cart()
        if not cart_id or not self.add_item(cart_id, self.pick_sku(for_purchase=True)):
            return
        declined = random.random() < self.decline_share
        body = {"email": f"shopper-{uuid.uuid4().hex[:10]}@loadtest.example",
                "shipping_address": ADDRESS,
                "payment": {"gateway": "dummy", "token": "tok_declined" if declined else "tok_ok"}}
        with self.client.post(f"{API}/carts/{cart_id}/checkout", json=body, catch_response=True,
                              headers={"Idempotency-Key": uuid.uuid4().hex},
                              name=f"{API}/carts/[cart_id]/checkout") as response:
            order = self.checkout_outcome(response, declined)
        if order is not None:
            with self.client.get(f"{API}/orders/{order['order_id']}", catch_response=True,
                                 headers={"Authorization": f"Bearer {order['access_token']}"},
                                 name=f"{API}/orders/[order_id]") as response:
                self.expect(response, 200)

    # --- steps -------------------------------------------------------------------------------
    def pick_sku(self, for_purchase: bool = False) -> str:
        if for_purchase and random.random() < HOT_PRODUCT_SHARE:
            return self.shop.catalog.hot_sku
        return random.choice(self.shop.catalog.skus)

    def product_page(self, sku: str) -> None:
        with self.client.get(f"{self.products}/{sku}", catch_response=True,
                             headers=self.room_headers(),
                             name=f"{API}/shops/[slug]/products/[sku]") as response:
            self.expect(response, 200)
            self.keep_pass(response)

    def new_cart(self) -> str | None:
        with self.client.post(f"{API}/shops/{self.shop.slug}/carts", catch_response=True,
                              headers=self.room_headers(),
                              name=f"{API}/shops/[slug]/carts") as response:
            if not self.expect(response, 201):
                return None
            self.keep_pass(response)
            return response.json()["cart_id"]

    def add_item(self, cart_id: str, sku: str) -> bool:
        """True when the line is in the cart; a sold-out product is expected, not a failure."""
        with self.client.put(f"{API}/carts/{cart_id}/items/{sku}", json={"quantity": 1},
                             catch_response=True,
                             name=f"{API}/carts/[cart_id]/items/[sku]") as response:
            if response.status_code == 409 and problem_code(response) == "insufficient_stock":
                response.success()
                swarm.recorder.sold_out()
                return False
            return self.expect(response, 200)

    def checkout_outcome(self, response, declined: bool) -> dict | None:
        """Classify a checkout answer; returns the order when it was paid."""
        if response.status_code == 409 and problem_code(response) == "insufficient_stock":
            response.success()
            swarm.recorder.sold_out()
            return None
        if not self.expect(response, 201):
            return None
        order = response.json()
        expected = "payment_failed" if declined else "paid"
        if order.get("status") != expected:
            response.failure(f"checkout with {'tok_declined' if declined else 'tok_ok'} "
                             f"answered status {order.get('status')!r}, expected {expected!r}")
            self.visit_ok = False
            return None
        if declined:
            swarm.recorder.payment_declined()
            return None
        swarm.recorder.order_paid(order["order_id"], order["access_token"])
        return order


class MerchantUser(ShopClient, FastHttpUser):
    """The merchant during the rush: reprices, restocks the launch product, watches orders."""

    fixed_count = 1
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.shop = swarm.board.wait()
        if not self.shop.merchant_token:
            log.warning("no --merchant-token for shop %r: the merchant persona sits out",
                        self.shop.slug)
            raise StopUser()
        self.auth = {"Authorization": f"Bearer {self.shop.merchant_token}"}

    def patch_product(self, sku: str, changes: dict) -> dict | None:
        with self.client.patch(f"{API}/shops/{self.shop.slug}/products/{sku}", json=changes,
                               headers=self.auth, catch_response=True,
                               name=f"{API}/shops/[slug]/products/[sku]") as response:
            return response.json() if self.expect(response, 200) else None

    @tag("merchant", "reprice")
    @task(3)
    def reprice(self) -> None:
        sku = random.choice(self.shop.catalog.skus)
        self.patch_product(sku, {"price": {"amount": random.choice((990, 1490, 1990, 2490)),
                                           "currency": "EUR"}})

    @tag("merchant", "restock")
    @task(1)
    def restock_launch_product(self) -> None:
        """Read the stock on hand (its PATCH answer), then add a batch to it."""
        sku = self.shop.catalog.hot_sku
        product = self.patch_product(sku, {"description": "Back in stock: a new batch is in."})
        if product is not None:
            self.patch_product(sku, {"stock": product["stock"] + RESTOCK_UNITS})

    @tag("merchant", "orders")
    @task(1)
    def review_orders(self) -> None:
        with self.client.get(f"{API}/shops/{self.shop.slug}/orders?status=paid&limit=20",
                             headers=self.auth, catch_response=True,
                             name=f"{API}/shops/[slug]/orders?status=paid") as response:
            self.expect(response, 200)
