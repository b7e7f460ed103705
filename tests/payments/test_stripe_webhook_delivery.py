"""localstripe, standing in for Stripe, delivers its own signed webhook to the app over HTTP.

The event body and its Stripe-Signature header are localstripe's, not the tests': this checks
the app against a second, independent implementation of Stripe's signing. The module runs its
own localstripe, because webhook endpoints registered there apply to the whole process.
"""

from __future__ import annotations

import threading
import time

import pytest
from werkzeug.serving import make_server

from tests.payments.localstripe_server import LocalStripe
from tests.payments.stripe_testkit import (
    FAILED_EVENT,
    SUCCEEDED_EVENT,
    THREE_D_SECURE_CARD,
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    authenticate,
    card_payment_method,
    cart_with,
    checkout,
    intents_for,
    outbox_rows,
    stored_order,
)

# localstripe waits a second before it sends; this is only how long to keep looking.
DELIVERY_DEADLINE_S = 30


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory):
    server = LocalStripe.start(log_path=str(tmp_path_factory.mktemp("localstripe") / "log"))
    yield server
    server.stop()


@pytest.fixture
def app_url(app):
    """The app served over real HTTP on loopback, where localstripe can reach it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_stripes_own_webhook_pays_an_order_that_waited_for_3d_secure(
        api, shop, app, app_url, localstripe, stripe_client):
    localstripe.send_webhooks_to("peakshop", app_url + WEBHOOK_PATH, WEBHOOK_SECRET,
                                 events=[SUCCEEDED_EVENT, FAILED_EVENT])
    api.add_product(shop, "MUG", stock=3)
    token = card_payment_method(stripe_client, THREE_D_SECURE_CARD)
    order = checkout(api.client, cart_with(api, shop, "MUG", 1), token=token).get_json()
    assert order["status"] == "pending_payment"
    [waiting] = intents_for(stripe_client, order["order_id"])

    authenticate(localstripe.url, waiting["id"], waiting["client_secret"], success=True)
    deadline = time.monotonic() + DELIVERY_DEADLINE_S
    while (stored_order(app, order["order_id"]).status == "pending_payment"
           and time.monotonic() < deadline):
        time.sleep(0.1)
    stored = stored_order(app, order["order_id"])
    assert stored.status == "paid"
    assert stored.payment_reference == waiting["id"]
    assert outbox_rows(app, order["order_id"]) == 1
