"""Speaking Stripe in tests: checkouts with the stripe gateway, test cards, signed events.

Everything here talks to localstripe, which stands in for Stripe's API, through the official
`stripe` library or plain HTTP, and signs events the way Stripe documents it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request
import uuid

import stripe
from sqlalchemy import func, select

from common.order_stream import STREAM
from shop.orders.models import Order, OutboxMessage
from tests.support.api import ADDRESS

API_KEY = "sk_test_peakshop_localstripe"
WEBHOOK_SECRET = "whsec_peakshop_test_endpoint_secret"
WEBHOOK_PATH = "/api/v1/payments/stripe/webhook"
# Stripe's test card that asks for 3-D Secure on every payment.
THREE_D_SECURE_CARD = "4000002500003155"
# A test PaymentMethod that attaches fine but whose charges the issuer declines; localstripe
# knows it (its `pm_card_visa_chargeDeclined` card is only refused when attached to a customer).
DECLINED_PAYMENT_METHOD = "pm_card_chargeCustomerFail"
SUCCEEDED_EVENT = "payment_intent.succeeded"
FAILED_EVENT = "payment_intent.payment_failed"


def checkout(client, cart_id: str, token: str, key: str | None = None):
    """POST the cart's checkout, paying through the stripe gateway with `token`."""
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/api/v1/carts/{cart_id}/checkout", headers=headers, json={
        "email": "shopper@example.com", "shipping_address": ADDRESS,
        "payment": {"gateway": "stripe", "token": token}})


def cart_with(api, shop, sku: str, quantity: int) -> str:
    cart_id = api.new_cart(shop)
    response = api.set_item(cart_id, sku, quantity)
    assert response.status_code == 200, response.get_json()
    return cart_id


def available(client, slug: str, sku: str) -> int:
    return client.get(f"/api/v1/shops/{slug}/products/{sku}").get_json()["available"]


def card_payment_method(stripe_client: stripe.StripeClient, number: str) -> str:
    """A PaymentMethod for a test card number (as Stripe.js would create in the browser)."""
    method = stripe_client.v1.payment_methods.create({
        "type": "card",
        "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    return method.id


def intents_for(stripe_client: stripe.StripeClient, order_id: str) -> list[dict]:
    """Every PaymentIntent Stripe holds for the order, found through the list API."""
    intents = (found.to_dict() for found in
               stripe_client.v1.payment_intents.list({"limit": 100}).auto_paging_iter())
    return [found for found in intents
            if (found.get("metadata") or {}).get("order_id") == order_id]


def intent(stripe_client: stripe.StripeClient, intent_id: str) -> dict:
    return stripe_client.v1.payment_intents.retrieve(intent_id).to_dict()


def authenticate(stripe_url: str, intent_id: str, client_secret: str, success: bool) -> None:
    """Complete (or fail) 3-D Secure, as the shopper does in Stripe.js.

    localstripe's `_authenticate` endpoint stands in for the bank's challenge page.
    """
    data = urllib.parse.urlencode({"client_secret": client_secret,
                                   "success": "true" if success else "false"}).encode()
    request = urllib.request.Request(
        f"{stripe_url}/v1/payment_intents/{intent_id}/_authenticate", data=data, method="POST",
        headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def event_body(event_type: str, intent_object: dict, event_id: str | None = None) -> bytes:
    """A Stripe event carrying `intent_object`, as Stripe's webhook body has it."""
    return json.dumps({
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "data": {"object": intent_object},
    }).encode()


def signature_header(payload: bytes, secret: str = WEBHOOK_SECRET,
                     timestamp: int | None = None) -> str:
    """The Stripe-Signature header exactly as Stripe builds it: t=..., v1=HMAC-SHA256."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_event(client, payload: bytes, header: str | None = "sign"):
    """POST a webhook; by default signed with the endpoint's secret."""
    headers = {}
    if header == "sign":
        headers["Stripe-Signature"] = signature_header(payload)
    elif header is not None:
        headers["Stripe-Signature"] = header
    return client.post(WEBHOOK_PATH, data=payload, headers=headers,
                       content_type="application/json")


def stored_order(app, order_id: str) -> Order:
    with app.extensions["peakshop"].database.reading() as session:
        return session.get(Order, order_id)


def outbox_rows(app, order_id: str) -> int:
    with app.extensions["peakshop"].database.reading() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.order_id == order_id))


def queued(redis_client, order_id: str) -> int:
    """How many times the order was put on the workers' stream."""
    return sum(1 for _, fields in redis_client.xrange(STREAM)
               if fields.get(b"order_id") == order_id.encode())
