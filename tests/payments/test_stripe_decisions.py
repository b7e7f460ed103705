"""The pure decisions of the stripe package, as tables: intent -> result, event -> effect."""

from __future__ import annotations

import pytest

from shop.payments.interface import PaymentRequest, PaymentStatus
from shop.payments.stripe.events import (
    Effect,
    IntentEvent,
    OrderState,
    plan,
    read_event,
)
from shop.payments.stripe.gateway import intent_params, result_for_intent

ORDER_ID = "0" * 31 + "1"


@pytest.mark.parametrize("intent, status, reason", [
    ({"status": "succeeded"}, PaymentStatus.SUCCEEDED, None),
    ({"status": "requires_payment_method",
      "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"}},
     PaymentStatus.FAILED, "insufficient_funds"),
    ({"status": "requires_payment_method",
      "last_payment_error": {"code": "payment_intent_authentication_failure"}},
     PaymentStatus.FAILED, "payment_intent_authentication_failure"),
    ({"status": "requires_payment_method"}, PaymentStatus.FAILED, "payment_method_required"),
    ({"status": "canceled", "cancellation_reason": "abandoned"}, PaymentStatus.FAILED,
     "canceled_abandoned"),
    ({"status": "requires_action"}, PaymentStatus.PENDING, None),
    ({"status": "processing"}, PaymentStatus.PENDING, None),
    ({"status": "requires_capture"}, PaymentStatus.PENDING, None),
])
def test_intent_status_maps_to_a_payment_result(intent, status, reason):
    result = result_for_intent({"id": "pi_1", "client_secret": "pi_1_secret_x", **intent})
    assert (result.status, result.failure_reason, result.reference) == (status, reason, "pi_1")
    if status is PaymentStatus.PENDING:
        assert result.client_secret == "pi_1_secret_x"


def test_intent_params_carry_minor_units_lower_case_currency_and_the_order():
    params = intent_params(PaymentRequest(order_id=ORDER_ID, amount=2599, currency="EUR",
                                          token="pm_card_visa", email="a@example.com",
                                          idempotency_key=f"order-{ORDER_ID}"), "pm_card_visa")
    assert params == {"amount": 2599, "currency": "eur", "confirm": True,
                      "payment_method_types": ["card"], "metadata": {"order_id": ORDER_ID},
                      "payment_method": "pm_card_visa"}


def _event(kind: str, intent_id: str = "pi_new", amount: int = 2500) -> IntentEvent:
    return IntentEvent(event_id="evt_1", event_type=f"payment_intent.{kind}",
                       intent_id=intent_id, order_id=ORDER_ID, amount=amount, currency="eur",
                       failure_reason="card_declined" if kind == "payment_failed" else "")


def _order(status: str, reference: str | None = None) -> OrderState:
    return OrderState(order_id=ORDER_ID, status=status, payment_reference=reference,
                      total_amount=2500, currency="EUR", failure_reason=None)


@pytest.mark.parametrize("event, order, effect", [
    (_event("succeeded"), _order("pending_payment"), Effect.MARK_PAID),
    (_event("succeeded"), _order("pending_payment", "pi_new"), Effect.MARK_PAID),
    (_event("succeeded", amount=100), _order("pending_payment"), Effect.REFUND),
    (_event("succeeded"), _order("paid", "pi_new"), Effect.NOTHING),
    (_event("succeeded"), _order("confirmed", "pi_new"), Effect.NOTHING),
    (_event("succeeded"), _order("paid", "pi_old"), Effect.REFUND),
    (_event("succeeded"), _order("cancelled", "pi_new"), Effect.REFUND),
    (_event("succeeded"), _order("payment_failed", "pi_new"), Effect.REFUND),
    (_event("succeeded"), None, Effect.NOTHING),
    (_event("payment_failed"), _order("pending_payment", "pi_new"), Effect.MARK_FAILED),
    (_event("payment_failed"), _order("pending_payment"), Effect.MARK_FAILED),
    (_event("payment_failed"), _order("pending_payment", "pi_other"), Effect.NOTHING),
    (_event("payment_failed"), _order("paid", "pi_new"), Effect.NOTHING),
    (_event("payment_failed"), _order("cancelled", "pi_new"), Effect.NOTHING),
    (_event("payment_failed"), None, Effect.NOTHING),
])
def test_what_an_event_does_to_its_order(event, order, effect):
    assert plan(event, order) is effect


def test_events_peakshop_does_not_act_on_are_read_as_nothing():
    assert read_event({"id": "evt_1", "type": "charge.refunded", "data": {}}) is None


def test_a_payment_event_is_read_with_its_order_and_reason():
    event = read_event({"id": "evt_9", "type": "payment_intent.payment_failed", "data": {
        "object": {"id": "pi_9", "amount": 2500, "currency": "EUR", "status":
                   "requires_payment_method", "metadata": {"order_id": ORDER_ID},
                   "last_payment_error": {"code": "card_declined",
                                          "decline_code": "stolen_card"}}}})
    assert event == IntentEvent(event_id="evt_9", event_type="payment_intent.payment_failed",
                                intent_id="pi_9", order_id=ORDER_ID, amount=2500,
                                currency="eur", failure_reason="stolen_card")
