"""Stripe webhooks under hostile input: every body or Stripe-Signature that is not a genuine
Stripe event is a 400 naming what is wrong, never a 500, and never changes an order."""

from __future__ import annotations

import json
import time

import pytest

from tests.payments.stripe_testkit import (
    SUCCEEDED_EVENT,
    THREE_D_SECURE_CARD,
    WEBHOOK_PATH,
    authenticate,
    card_payment_method,
    cart_with,
    checkout,
    event_body,
    intent,
    intents_for,
    outbox_rows,
    post_event,
    signature_header,
    stored_order,
)

IGNORED_TYPE = "charge.refunded"


def _event(**fields) -> bytes:
    return json.dumps({"id": "evt_hostile", "object": "event", "type": IGNORED_TYPE,
                       "data": {"object": {}}, **fields}).encode()


def _post_signed(client, body: bytes, timestamp: int | None = None):
    return post_event(client, body, header=signature_header(body, timestamp=timestamp))


def _refusal(response) -> tuple[int, str, str, str]:
    problem = response.get_json()
    return response.status_code, response.mimetype, problem["code"], problem["detail"]


@pytest.mark.parametrize("body, says", [
    (b"[" * 10_000 + b"]" * 10_000, "nested deeper"),
    (b'{"id": "evt_deep", "type": "x", "data": {"object": ' + b"[" * 10_000 + b"]" * 10_000
     + b"}}", "nested deeper"),
    (b"[" * 40 + b"]" * 40, "nested deeper"),
    (b"", "empty"),
    (b"   ", "empty"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b"[]", "got an array"),
    (b'"evt_1"', "got a string"),
    (b"null", "got null"),
    (b"42", "got a number"),
])
def test_a_signed_body_that_is_not_an_event_object_is_refused(api, body, says):
    status, mimetype, code, detail = _refusal(_post_signed(api.client, body))
    assert (status, mimetype, code) == (400, "application/problem+json", "malformed_event")
    assert says in detail


@pytest.mark.parametrize("fields, says", [
    ({"id": {"a": 1}}, "'id'"),
    ({"id": ""}, "'id'"),
    ({"id": 7}, "'id'"),
    ({"id": None}, "'id'"),
    ({"id": "evt_" + "x" * 300}, "'id'"),
    ({"type": 5}, "'type'"),
    ({"type": ""}, "'type'"),
    ({"type": ["payment_intent.succeeded"]}, "'type'"),
    ({"type": None}, "'type'"),
    ({"data": {}}, "'data.object'"),
    ({"data": {"object": []}}, "'data.object'"),
    ({"data": {"object": "pi_1"}}, "'data.object'"),
    ({"data": None}, "'data.object'"),
])
def test_a_signed_event_without_a_string_id_and_type_and_an_object_is_refused(api, fields, says):
    status, _, code, detail = _refusal(_post_signed(api.client, _event(**fields)))
    assert (status, code) == (400, "malformed_event")
    assert says in detail


@pytest.mark.parametrize("ahead_s", [1_000_000, 10**30, 10**400])
def test_a_signature_dated_in_the_future_is_refused(api, ahead_s):
    body = _event()
    status, _, code, detail = _refusal(_post_signed(api.client, body,
                                                    timestamp=int(time.time()) + ahead_s))
    assert (status, code) == (400, "invalid_signature")
    assert "the signature's timestamp is in the future" in detail


def test_a_signature_a_little_ahead_of_our_clock_is_accepted(api):
    response = _post_signed(api.client, _event(), timestamp=int(time.time()) + 60)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outcome"] == "ignored"


def _valid_v1(body: bytes) -> str:
    return signature_header(body).split(",")[1]


@pytest.mark.parametrize("make_header", [
    lambda body: "t=1,v1=éé",
    lambda body: f"t={int(time.time())},v1=ééé",
    lambda body: "t=abc," + _valid_v1(body),
    lambda body: "t=," + _valid_v1(body),
    lambda body: "v1=" + "0" * 64,
    lambda body: f"t={int(time.time())}",
    lambda body: f"t={int(time.time())}," + ",".join(["v1=" + "0" * 64] * 5),
    lambda body: "t=" + "9" * 5000 + "," + _valid_v1(body),
    lambda body: signature_header(body) + "," + "x" * 10_000,
    lambda body: signature_header(body) + "\x00",
    lambda body: signature_header(body) + "\x7f",
])
def test_a_malformed_signature_header_is_called_an_invalid_signature(api, make_header):
    body = _event()
    status, mimetype, code, detail = _refusal(post_event(api.client, body,
                                                         header=make_header(body)))
    assert (status, mimetype, code) == (400, "application/problem+json", "invalid_signature")
    assert "Stripe-Signature" in detail
    assert "JSON object" not in detail


def test_a_signature_header_with_a_line_break_is_an_invalid_signature(api):
    body = _event()
    # Werkzeug's test client will not put CR/LF in a header; a raw WSGI environ can.
    response = api.client.post(WEBHOOK_PATH, data=body, content_type="application/json",
                               environ_overrides={"HTTP_STRIPE_SIGNATURE":
                                                  signature_header(body) + "\r\nX: y"})
    assert _refusal(response)[:3] == (400, "application/problem+json", "invalid_signature")


def test_one_good_signature_among_several_is_accepted(api):
    """Stripe signs with every live secret of the endpoint while a secret is being rolled."""
    body = _event()
    good = signature_header(body)
    header = good.replace(",v1=", ",v1=" + "0" * 64 + ",v0=" + "1" * 64 + ",v1=")
    response = post_event(api.client, body, header=header)
    assert response.status_code == 200, response.get_json()


def test_hostile_replays_of_an_applied_event_change_nothing(api, shop, app, localstripe,
                                                           stripe_client):
    api.add_product(shop, "MUG", price=1250, stock=3)
    token = card_payment_method(stripe_client, THREE_D_SECURE_CARD)
    order = checkout(api.client, cart_with(api, shop, "MUG", 1), token=token).get_json()
    [waiting] = intents_for(stripe_client, order["order_id"])
    authenticate(localstripe.url, waiting["id"], waiting["client_secret"], success=True)
    payload = event_body(SUCCEEDED_EVENT, intent(stripe_client, waiting["id"]))
    assert post_event(api.client, payload).get_json()["outcome"] == "paid"

    future = _post_signed(api.client, payload, timestamp=int(time.time()) + 10**6)
    garbled = post_event(api.client, payload, header="t=1,v1=éé")
    again = post_event(api.client, payload,
                       header=signature_header(payload) + ",v1=" + "0" * 64)
    assert (future.status_code, garbled.status_code) == (400, 400)
    assert again.get_json()["outcome"] == "already processed"
    assert stored_order(app, order["order_id"]).status == "paid"
    assert outbox_rows(app, order["order_id"]) == 1
