"""Money cannot be taken twice: one cart, one paid order; the price seen is the price paid.

Charges are counted at the gateway: the dummy gateway keeps a ledger in the test's real Redis,
one entry per payment it took, as a card network would.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from shop.checkout import service
from shop.checkout.rules import Limits
from shop.core.timeutil import utcnow
from shop.orders.models import Order, OutboxMessage
from shop.orders.service import expire_reservations
from shop.payments.dummy import DummyGateway, charges
from shop.payments.interface import PaymentStatus
from tests.support.api import ADDRESS
from tests.support.gateways import PendingBank


def body(token: str = "tok_ok", **extra) -> dict:
    return {"email": "shopper@example.com", "shipping_address": ADDRESS,
            "payment": {"gateway": "dummy", "token": token}, **extra}


def post_checkout(client, cart_id: str, key: str | None = None, **fields):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/api/v1/carts/{cart_id}/checkout", headers=headers,
                       json=body(**fields))


def available(client, shop, sku: str) -> int:
    return client.get(f"/api/v1/shops/{shop.slug}/products/{sku}").get_json()["available"]


def order_count(app) -> int:
    with app.extensions["peakshop"].database.reading() as session:
        return session.scalar(select(func.count()).select_from(Order))


def cart_with(api, shop, sku: str, quantity: int = 1) -> str:
    cart_id = api.new_cart(shop)
    response = api.set_item(cart_id, sku, quantity)
    assert response.status_code == 200, response.get_json()
    return cart_id


# --- one cart, at most one paid order --------------------------------------------------------

def test_a_second_key_cannot_pay_for_a_cart_again(client, api, shop, app, redis_client):
    api.add_product(shop, "GIFT", price=1500, stock=5)
    cart_id = cart_with(api, shop, "GIFT", 2)
    first = post_checkout(client, cart_id, key="tab-1")
    assert first.status_code == 201 and first.get_json()["status"] == "paid"
    again = post_checkout(client, cart_id, key="tab-2")
    assert again.status_code == 409
    problem = again.get_json()
    assert problem["code"] == "cart_already_checked_out"
    assert problem["order_id"] == first.get_json()["order_id"]
    assert problem["order_status"] == "paid"
    assert again.content_type == "application/problem+json"
    assert post_checkout(client, cart_id).status_code == 409  # no key at all: the same
    assert [c["amount"] for c in charges(redis_client)] == [3000]
    assert order_count(app) == 1
    assert available(client, shop, "GIFT") == 3


def test_a_cart_left_behind_by_a_paid_order_is_still_refused(client, api, shop, app,
                                                             redis_client):
    """The cart outlived its order (its deletion failed): it still pays only once."""
    api.add_product(shop, "GIFT", stock=5)
    cart_id = cart_with(api, shop, "GIFT")
    snapshot = redis_client.dump(f"peakshop:cart:{cart_id}")
    assert post_checkout(client, cart_id, key="first").get_json()["status"] == "paid"
    redis_client.restore(f"peakshop:cart:{cart_id}", 0, snapshot)
    retried = post_checkout(client, cart_id, key="second")
    assert retried.status_code == 409 and retried.get_json()["code"] == "cart_already_checked_out"
    assert len(charges(redis_client)) == 1
    assert order_count(app) == 1


def test_a_declined_payment_lets_go_of_the_cart(client, api, shop, app, redis_client):
    api.add_product(shop, "GIFT", stock=5)
    cart_id = cart_with(api, shop, "GIFT")
    declined = post_checkout(client, cart_id, key="card-1", token="tok_declined")
    assert declined.get_json()["status"] == "payment_failed"
    paid = post_checkout(client, cart_id, key="card-2")
    assert paid.status_code == 201 and paid.get_json()["status"] == "paid"
    assert len(charges(redis_client)) == 1
    assert available(client, shop, "GIFT") == 4


def test_an_expired_order_lets_go_of_the_cart(client, api, shop, app):
    api.add_product(shop, "GIFT", stock=5)
    cart_id = cart_with(api, shop, "GIFT")
    resources = app.extensions["peakshop"]
    request = service.parse_request(body(), resources.gateway)
    pending = service.checkout(resources.database, resources.redis, PendingBank(),
                               cart_id=cart_id, request=request, idempotency_key="pending",
                               limits=Limits()).order
    # The order awaiting payment claims its cart: another key is turned away.
    assert post_checkout(client, cart_id, key="other").status_code == 409
    with resources.database.transaction() as session:
        expire_reservations(session, now=utcnow() + timedelta(hours=1))
    with resources.database.reading() as session:
        assert session.get(Order, pending.id).cart_claim is None
    assert available(client, shop, "GIFT") == 5


# --- the same key, the same body -------------------------------------------------------------

def test_the_same_key_with_another_body_is_refused(client, api, shop, app, redis_client):
    api.add_product(shop, "GIFT", stock=5)
    cart_id = cart_with(api, shop, "GIFT")
    first = post_checkout(client, cart_id, key="k")
    assert first.status_code == 201
    changed = client.post(f"/api/v1/carts/{cart_id}/checkout", headers={"Idempotency-Key": "k"},
                          json={**body(), "email": "someone.else@example.com"})
    assert changed.status_code == 422
    assert changed.get_json()["code"] == "idempotency_key_reused"
    assert "different body" in changed.get_json()["detail"]
    same = post_checkout(client, cart_id, key="k")
    assert same.status_code == 201 and same.headers["Idempotent-Replayed"] == "true"
    assert same.get_json() == first.get_json()
    assert order_count(app) == 1 and len(charges(redis_client)) == 1


def test_key_order_and_whitespace_do_not_change_the_body(client, api, shop):
    api.add_product(shop, "GIFT", stock=5)
    cart_id = cart_with(api, shop, "GIFT")
    first = post_checkout(client, cart_id, key="k")
    reordered = dict(reversed(list(body().items())))
    again = client.post(f"/api/v1/carts/{cart_id}/checkout",
                        headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
                        data=json.dumps(reordered, indent=4))
    assert again.status_code == 201
    assert again.get_json()["order_id"] == first.get_json()["order_id"]


# --- once paid, the answer is the paid order -------------------------------------------------

class RedisRefusesAfterCharge:
    """The real dummy gateway, after whose charge Redis starts refusing the app's writes.

    Redis's own ACLs take DEL and XADD away from the app's user right after the payment, so
    deleting the cart and relaying the order fail for real, exactly between "paid" and
    "answered" — the moment where a 503 used to leave a payable cart behind.
    """

    name = "dummy"

    def __init__(self, inner, admin, user):
        self.inner, self.admin, self.user = inner, admin, user

    def check_token(self, token):
        self.inner.check_token(token)

    def charge(self, request):
        result = self.inner.charge(request)
        self.admin.execute_command("ACL", "SETUSER", self.user, "-del", "-unlink", "-xadd")
        return result


@pytest.fixture
def restricted_app(make_app, redis_server, redis_client):
    user, password = "storefront", "storefront-password"
    redis_client.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}", "~*",
                                 "&*", "+@all")
    application = make_app(redis_url=f"redis://{user}:{password}@127.0.0.1:"
                                     f"{redis_server.port}/0")
    resources = application.extensions["peakshop"]
    resources.gateway = RedisRefusesAfterCharge(resources.gateway, redis_client, user)
    yield application
    redis_client.execute_command("ACL", "DELUSER", user)


def test_a_failure_after_payment_still_answers_the_paid_order(restricted_app, redis_client):
    from tests.support.api import ShopApi

    client = restricted_app.test_client()
    api = ShopApi(client)
    shop = api.sign_up("After Pay")
    api.add_product(shop, "GIFT", price=2500, stock=5)
    cart_id = cart_with(api, shop, "GIFT")
    response = post_checkout(client, cart_id, key="only-once")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "paid"
    # The cart survived (Redis refused to delete it) ...
    assert client.get(f"/api/v1/carts/{cart_id}").status_code == 200
    redis_client.execute_command("ACL", "SETUSER", "storefront", "+@all")
    # ... yet a retry under a new key does not pay a second time.
    retry = post_checkout(client, cart_id, key="a-new-key")
    assert retry.status_code == 409 and retry.get_json()["code"] == "cart_already_checked_out"
    assert [c["amount"] for c in charges(redis_client)] == [2500]
    # The order waits in the outbox for the next relay; nothing is lost.
    order = api.order(response.get_json()["order_id"], response.get_json()["access_token"])
    assert order.get_json()["status"] == "paid"
    with restricted_app.extensions["peakshop"].database.reading() as session:
        [waiting] = session.scalars(select(OutboxMessage)).all()
    assert waiting.order_id == response.get_json()["order_id"] and waiting.relayed_at is None


def test_a_paid_order_missing_from_the_queue_is_queued_again(client, api, shop, app,
                                                             redis_client):
    """Checkout records the payment with its outbox row marked relayed, then adds the order
    to the stream itself; a process that dies in between leaves exactly this state, which
    the worker's lost-order sweep repairs."""
    from common import order_stream
    from shop.orders import housekeeping

    api.add_product(shop, "GIFT", price=2500, stock=5)
    paid = post_checkout(client, cart_with(api, shop, "GIFT"), key="dies-after-commit")
    assert paid.status_code == 201 and paid.get_json()["status"] == "paid"
    order_id = paid.get_json()["order_id"]
    [entry] = redis_client.xrange(order_stream.STREAM)
    redis_client.xdel(order_stream.STREAM, entry[0])  # the XADD that never happened
    database = app.extensions["peakshop"].database
    with database.reading() as session:
        assert session.scalars(select(OutboxMessage.relayed_at)).one() is not None
    assert housekeeping.requeue_orphans(database, redis_client, older_than_s=0) == 1
    assert [fields[b"order_id"].decode() for _, fields in
            redis_client.xrange(order_stream.STREAM)] == [order_id]


# --- what the shopper saw is what they pay ---------------------------------------------------

def test_the_expected_total_must_match(client, api, shop, app, redis_client):
    api.add_product(shop, "GIFT", price=1000, stock=5)
    cart_id = cart_with(api, shop, "GIFT", 2)
    seen = client.get(f"/api/v1/carts/{cart_id}").get_json()["total"]
    assert seen == {"amount": 2000, "currency": "EUR"}
    patched = client.patch(f"/api/v1/shops/{shop.slug}/products/GIFT", headers=shop.auth,
                           json={"price": {"amount": 1200, "currency": "EUR"}})
    assert patched.status_code == 200
    refused = post_checkout(client, cart_id, key="k1", expected_total=seen)
    assert refused.status_code == 409
    problem = refused.get_json()
    assert problem["code"] == "price_changed"
    assert problem["total"] == {"amount": 2400, "currency": "EUR"}
    assert problem["expected_total"] == seen
    assert available(client, shop, "GIFT") == 5 and order_count(app) == 0
    assert charges(redis_client) == []
    accepted = post_checkout(client, cart_id, key="k2",
                             expected_total={"amount": 2400, "currency": "EUR"})
    assert accepted.status_code == 201 and accepted.get_json()["total"]["amount"] == 2400


@pytest.mark.parametrize("expected, status, code", [
    (2000, 201, None),                                      # a bare amount: the cart's currency
    ({"amount": 2000}, 201, None),
    ({"amount": 2000, "currency": "USD"}, 409, "price_changed"),
    ({"amount": 1999, "currency": "EUR"}, 409, "price_changed"),
    ({"amount": -1, "currency": "EUR"}, 422, "invalid_input"),
    ({"amount": 2000, "currency": "EURO"}, 422, "invalid_input"),
    ({"amount": 2000, "currency": "eur"}, 422, "invalid_input"),
    ({"amount": "2000", "currency": "EUR"}, 422, "invalid_input"),
    ("2000", 422, "invalid_input"),
    (True, 422, "invalid_input"),
    ({"amount": 2000, "currency": "EUR", "tax": 0}, 422, "invalid_input"),
    ({"amount": 2000, "formatted": "20.00"}, 422, "invalid_input"),
])
def test_expected_total_forms(client, api, shop, expected, status, code):
    api.add_product(shop, "GIFT", price=1000, stock=5)
    cart_id = cart_with(api, shop, "GIFT", 2)
    response = post_checkout(client, cart_id, expected_total=expected)
    assert response.status_code == status, response.get_json()
    if code:
        assert response.get_json()["code"] == code
        assert available(client, shop, "GIFT") == 5
    if status == 422:  # the refusal names the field sent, not another route's
        assert "expected_total" in response.get_json()["detail"]


# --- what an order may cost ------------------------------------------------------------------

def test_a_free_cart_cannot_be_checked_out(client, api, shop, app, redis_client):
    api.add_product(shop, "FREEBIE", price=0, stock=5)
    cart_id = cart_with(api, shop, "FREEBIE", 2)
    response = post_checkout(client, cart_id)
    assert response.status_code == 422 and response.get_json()["code"] == "zero_total"
    assert available(client, shop, "FREEBIE") == 5 and order_count(app) == 0
    assert charges(redis_client) == []


def test_an_amount_near_the_limit_is_paid_and_read_back_exactly(client, api, shop, app,
                                                                redis_client):
    """10^12 - 1 minor units: past 32 bits, so this needs the BigInteger money columns."""
    price = 10**12 - 1
    api.add_product(shop, "YACHT", price=price, stock=3)
    assert client.get(f"/api/v1/shops/{shop.slug}/products/YACHT").get_json()["price"] == \
        {"amount": price, "currency": "EUR"}
    cart_id = cart_with(api, shop, "YACHT", 1)
    assert client.get(f"/api/v1/carts/{cart_id}").get_json()["total"]["amount"] == price
    response = post_checkout(client, cart_id, expected_total={"amount": price, "currency": "EUR"})
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "paid" and order["total"]["amount"] == price
    shown = api.order(order["order_id"], order["access_token"]).get_json()
    assert shown["total"]["amount"] == price
    assert shown["items"][0]["unit_price"]["amount"] == price
    listed = client.get(f"/api/v1/shops/{shop.slug}/orders", headers=shop.auth).get_json()
    assert listed["items"][0]["total"]["amount"] == price
    assert [c["amount"] for c in charges(redis_client)] == [price]
    # Two of them would pass the most one order may cost: refused, nothing held.
    too_much = cart_with(api, shop, "YACHT", 1)
    assert api.set_item(too_much, "YACHT", 2).status_code == 200
    refused = post_checkout(client, too_much)
    assert refused.status_code == 422 and refused.get_json()["code"] == "total_too_large"
    assert available(client, shop, "YACHT") == 2


# --- holds are short and capped --------------------------------------------------------------

def test_add_to_cart_is_capped_per_line(client, api, shop, make_app):
    api.add_product(shop, "HOT", stock=5000)
    cart_id = api.new_cart(shop)
    response = api.set_item(cart_id, "HOT", 101)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "quantity_limit" and problem["max_quantity"] == 100
    assert "at most 100" in problem["detail"]
    assert api.set_item(cart_id, "HOT", 100).status_code == 200
    tight = make_app(max_line_quantity=5).test_client()
    capped = tight.put(f"/api/v1/carts/{cart_id}/items/HOT", json={"quantity": 6})
    assert capped.status_code == 422 and capped.get_json()["max_quantity"] == 5


def test_checkout_enforces_the_cap_on_lines_added_before_it(client, api, shop, app, make_app,
                                                            redis_client):
    api.add_product(shop, "HOT", stock=5000)
    cart_id = cart_with(api, shop, "HOT", 50)
    tight = make_app(max_line_quantity=10).test_client()
    response = post_checkout(tight, cart_id)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "quantity_limit" and problem["max_quantity"] == 10
    assert problem["lines"] == [{"sku": "HOT", "quantity": 50}]
    assert available(client, shop, "HOT") == 5000 and charges(redis_client) == []


def test_an_order_awaiting_the_shopper_holds_stock_briefly(client, api, shop, app):
    api.add_product(shop, "LAUNCH", stock=10)
    cart_id = cart_with(api, shop, "LAUNCH", 10)
    resources = app.extensions["peakshop"]
    request = service.parse_request(body(), resources.gateway)
    before = utcnow()
    result = service.checkout(resources.database, resources.redis, PendingBank(),
                              cart_id=cart_id, request=request, idempotency_key=None,
                              limits=Limits(reservation_ttl_s=900, action_hold_ttl_s=60))
    assert result.order.status == "pending_payment" and result.client_secret == "pi_secret"
    assert available(client, shop, "LAUNCH") == 0
    hold_ends = result.order.reservation_expires_at
    assert before + timedelta(seconds=60) <= hold_ends <= utcnow() + timedelta(seconds=60)
    # Not yet over: the units stay held.
    with resources.database.transaction() as session:
        assert expire_reservations(session, now=hold_ends - timedelta(seconds=1)) == []
    # Past the short hold (long before the 900 s reservation): the units are back.
    with resources.database.transaction() as session:
        assert expire_reservations(session, now=hold_ends + timedelta(seconds=1)) == \
            [result.order.id]
    assert available(client, shop, "LAUNCH") == 10


def test_an_expired_hold_is_swept_when_the_next_shopper_needs_the_units(client, api, shop,
                                                                       app):
    api.add_product(shop, "LAUNCH", stock=3)
    cart_id = cart_with(api, shop, "LAUNCH", 3)
    resources = app.extensions["peakshop"]
    request = service.parse_request(body(), resources.gateway)
    held = service.checkout(resources.database, resources.redis, PendingBank(),
                            cart_id=cart_id, request=request, idempotency_key=None,
                            limits=Limits()).order
    with resources.database.transaction() as session:
        session.execute(update(Order).where(Order.id == held.id)
                        .values(reservation_expires_at=utcnow() - timedelta(seconds=1)))
    assert api.buy(shop, "LAUNCH", 3).get_json()["status"] == "paid"


def test_settings_for_holds_are_read_from_the_environment():
    from shop.core.settings import ConfigError, load_settings

    settings = load_settings(environ={"PEAKSHOP_ACTION_HOLD_TTL_S": "30",
                                      "PEAKSHOP_MAX_LINE_QUANTITY": "7"})
    assert (settings.action_hold_ttl_s, settings.max_line_quantity) == (30, 7)
    assert Limits.from_settings(settings) == Limits(900, 30, 7)
    for variable in ("PEAKSHOP_ACTION_HOLD_TTL_S", "PEAKSHOP_MAX_LINE_QUANTITY"):
        with pytest.raises(ConfigError, match=f"{variable} must be greater than 0"):
            load_settings(environ={variable: "0"})


def test_the_dummy_ledger_answers_a_retry_with_its_first_outcome(redis_client):
    from shop.payments.interface import PaymentRequest

    gateway = DummyGateway(ledger=redis_client)
    request = PaymentRequest("o1", 500, "EUR", "tok_ok", "s@example.com", "order-o1")
    assert gateway.charge(request).status is PaymentStatus.SUCCEEDED
    assert gateway.charge(request).status is PaymentStatus.SUCCEEDED
    assert len(charges(redis_client)) == 1
    declined = PaymentRequest("o2", 500, "EUR", "tok_declined", "s@example.com", "order-o2")
    assert gateway.charge(declined).status is PaymentStatus.FAILED
    assert len(charges(redis_client)) == 1
