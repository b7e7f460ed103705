"""Stripe webhooks: signatures, replays, failures and late payments, end to end.

localstripe stands in for Stripe's API: the PaymentIntents in these events are real objects
read back from it, and refunds are made on it. Events are signed as Stripe signs them.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from shop.core.timeutil import utcnow
from shop.orders.service import expire_reservations
from tests.payments.stripe_testkit import (
    FAILED_EVENT,
    SUCCEEDED_EVENT,
    THREE_D_SECURE_CARD,
    WEBHOOK_PATH,
    authenticate,
    available,
    card_payment_method,
    cart_with,
    checkout,
    event_body,
    intent,
    intents_for,
    outbox_rows,
    post_event,
    queued,
    signature_header,
    stored_order,
)


@pytest.fixture
def pending(api, shop, stripe_client):
    """An order waiting for 3-D Secure: (checkout answer, its PaymentIntent)."""
    api.add_product(shop, "MUG", price=1250, stock=3)
    token = card_payment_method(stripe_client, THREE_D_SECURE_CARD)
    response = checkout(api.client, cart_with(api, shop, "MUG", 2), token=token)
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "pending_payment"
    [waiting] = intents_for(stripe_client, order["order_id"])
    return order, waiting


def _paid_intent(localstripe, stripe_client, waiting) -> dict:
    authenticate(localstripe.url, waiting["id"], waiting["client_secret"], success=True)
    paid = intent(stripe_client, waiting["id"])
    assert paid["status"] == "succeeded"
    return paid


def _expire(app, order_id: str) -> None:
    with app.extensions["peakshop"].database.transaction() as session:
        assert order_id in expire_reservations(session, now=utcnow() + timedelta(days=1))


def test_events_without_a_valid_signature_are_refused(api, app, localstripe, stripe_client,
                                                     pending):
    order, waiting = pending
    payload = event_body(SUCCEEDED_EVENT, _paid_intent(localstripe, stripe_client, waiting))
    headers = {
        "missing": None,
        "empty": "",
        "nonsense": "nonsense",
        "wrong secret": signature_header(payload, secret="whsec_someone_else"),
        "an hour old": signature_header(payload, timestamp=int(time.time()) - 3600),
        "for another body": signature_header(payload.replace(b"succeeded", b"succeeded ")),
    }
    answers = {case: post_event(api.client, payload, header=header)
               for case, header in headers.items()}
    assert {case: (answer.status_code, answer.mimetype, answer.get_json()["code"])
            for case, answer in answers.items()} == {
        case: (400, "application/problem+json",
               "missing_signature" if not header else "invalid_signature")
        for case, header in headers.items()}
    assert stored_order(app, order["order_id"]).status == "pending_payment"


def test_a_replayed_event_changes_nothing(api, app, localstripe, stripe_client, redis_client,
                                          pending):
    order, waiting = pending
    payload = event_body(SUCCEEDED_EVENT, _paid_intent(localstripe, stripe_client, waiting))
    first = post_event(api.client, payload)
    assert first.get_json()["outcome"] == "paid"
    replay = post_event(api.client, payload)  # signed anew, as Stripe does on redelivery
    assert replay.status_code == 200
    assert replay.get_json()["outcome"] == "already processed"
    assert stored_order(app, order["order_id"]).status == "paid"
    assert outbox_rows(app, order["order_id"]) == 1
    assert queued(redis_client, order["order_id"]) == 1


def test_a_failed_payment_fails_the_order_and_returns_the_stock(api, shop, app, localstripe,
                                                               stripe_client, pending):
    order, waiting = pending
    assert available(api.client, shop.slug, "MUG") == 1
    authenticate(localstripe.url, waiting["id"], waiting["client_secret"], success=False)
    refused = intent(stripe_client, waiting["id"])
    assert refused["status"] == "requires_payment_method"
    response = post_event(api.client, event_body(FAILED_EVENT, refused))
    assert response.get_json()["outcome"] == "payment_failed"
    stored = stored_order(app, order["order_id"])
    assert stored.status == "payment_failed"
    assert stored.failure_reason == "payment_intent_authentication_failure"
    assert available(api.client, shop.slug, "MUG") == 3


def test_a_payment_after_the_reservation_expired_is_refunded_not_revived(
        api, shop, app, localstripe, stripe_client, pending):
    order, waiting = pending
    _expire(app, order["order_id"])
    assert available(api.client, shop.slug, "MUG") == 3
    payload = event_body(SUCCEEDED_EVENT, _paid_intent(localstripe, stripe_client, waiting))
    response = post_event(api.client, payload)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outcome"] == "refunded"
    stored = stored_order(app, order["order_id"])
    assert stored.status == "cancelled"
    assert "reservation_expired" in stored.failure_reason
    assert "refunded (re_" in stored.failure_reason
    [refund] = stripe_client.v1.refunds.list({"payment_intent": waiting["id"]}).data
    assert refund.amount == 2500
    assert available(api.client, shop.slug, "MUG") == 3
    assert outbox_rows(app, order["order_id"]) == 0
    assert post_event(api.client, payload).get_json()["outcome"] == "already processed"
    assert len(stripe_client.v1.refunds.list({"payment_intent": waiting["id"]}).data) == 1


def test_a_payment_for_the_wrong_amount_is_refunded(api, app, stripe_client, pending):
    order, _ = pending
    wrong = stripe_client.v1.payment_intents.create({
        "amount": 100, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True,
        "metadata": {"order_id": order["order_id"]}}).to_dict()
    response = post_event(api.client, event_body(SUCCEEDED_EVENT, wrong))
    assert response.get_json()["outcome"] == "refunded"
    stored = stored_order(app, order["order_id"])
    assert stored.status == "pending_payment"
    assert "does not match the order total" in stored.failure_reason
    assert len(stripe_client.v1.refunds.list({"payment_intent": wrong["id"]}).data) == 1


def test_news_of_a_payment_checkout_already_applied_changes_nothing(api, shop, app,
                                                                   stripe_client, redis_client):
    api.add_product(shop, "MUG", stock=3)
    order = checkout(api.client, cart_with(api, shop, "MUG", 1), token="pm_card_visa").get_json()
    assert order["status"] == "paid"
    [paid] = intents_for(stripe_client, order["order_id"])
    response = post_event(api.client, event_body(SUCCEEDED_EVENT, paid))
    assert response.get_json()["outcome"] == "no change"
    assert outbox_rows(app, order["order_id"]) == 1
    assert queued(redis_client, order["order_id"]) == 1
    assert stripe_client.v1.refunds.list({"payment_intent": paid["id"]}).data == []


def test_an_event_type_peakshop_does_not_use_is_ignored(api, app, pending):
    order, waiting = pending
    response = post_event(api.client, event_body("payment_intent.created", waiting))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored"
    assert stored_order(app, order["order_id"]).status == "pending_payment"


def test_an_event_for_a_payment_of_no_order_of_ours_is_acknowledged(api, stripe_client):
    foreign = stripe_client.v1.payment_intents.create({
        "amount": 700, "currency": "eur", "payment_method": "pm_card_visa",
        "confirm": True}).to_dict()
    response = post_event(api.client, event_body(SUCCEEDED_EVENT, foreign))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "no change"
    assert stripe_client.v1.refunds.list({"payment_intent": foreign["id"]}).data == []


def test_signed_but_malformed_events_are_refused(api):
    bodies = {
        "not json": b"this is not json",
        "not an object": b"[]",
        "no intent": json.dumps({"id": "evt_1", "object": "event", "type": SUCCEEDED_EVENT,
                                 "data": {}}).encode(),
        "no event id": json.dumps({"object": "event", "type": FAILED_EVENT,
                                   "data": {"object": {"id": "pi_1"}}}).encode(),
        # Values no table can store and no JSON answer can carry, signed all the same.
        "lone surrogate in the id": (b'{"id": "evt_\\ud800", "type": "' + SUCCEEDED_EVENT.encode()
                                     + b'", "data": {"object": {"id": "pi_1"}}}'),
        "NUL in the intent": (b'{"id": "evt_2", "type": "' + SUCCEEDED_EVENT.encode()
                              + b'", "data": {"object": {"id": "pi_\\u0000"}}}'),
        "NaN for an id": b'{"id": NaN}',
        "Infinity for an amount": (b'{"id": "evt_3", "type": "' + SUCCEEDED_EVENT.encode()
                                   + b'", "data": {"object": {"id": "pi_1", "amount": Infinity}}}'),
    }
    answers = {case: api.client.post(WEBHOOK_PATH, data=body, content_type="application/json",
                                     headers={"Stripe-Signature": signature_header(body)})
               for case, body in bodies.items()}
    assert {case: (answer.status_code, answer.get_json()["code"])
            for case, answer in answers.items()} == {
        case: (400, "malformed_event") for case in bodies}
