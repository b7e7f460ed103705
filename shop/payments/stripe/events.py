"""What a Stripe payment event means for its order: pure decisions, no I/O.

    payment_intent.succeeded       order awaiting payment             -> MARK_PAID
                                   paid by this very intent already   -> NOTHING
                                   cancelled, failed, paid by another
                                   intent, or the amount is wrong     -> REFUND
    payment_intent.payment_failed  order awaiting this intent         -> MARK_FAILED
                                   anything else                      -> NOTHING

A payment that arrives for an order no longer waiting for it is given back rather than
reviving the order: its reservation is gone and the stock may be sold to someone else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shop.payments.stripe.gateway import failure_reason

SUCCEEDED = "payment_intent.succeeded"
PAYMENT_FAILED = "payment_intent.payment_failed"
HANDLED_TYPES = (SUCCEEDED, PAYMENT_FAILED)
MAX_EVENT_ID = 255
MAX_EVENT_TYPE = 255
MAX_NOTE = 255
ORDER_ID_LENGTH = 32


class Effect(enum.Enum):
    MARK_PAID = "paid"
    MARK_FAILED = "payment_failed"
    REFUND = "refunded"
    NOTHING = "no change"


@dataclass(frozen=True)
class IntentEvent:
    """The facts of a payment_intent.* event that peakshop acts on."""

    event_id: str
    event_type: str
    intent_id: str
    order_id: str | None     # metadata.order_id, set when the intent was created
    amount: int | None
    currency: str | None     # lower case, as Stripe writes it
    failure_reason: str


@dataclass(frozen=True)
class OrderState:
    """The order as it stood when the event was read."""

    order_id: str
    status: str
    payment_reference: str | None
    total_amount: int
    currency: str
    failure_reason: str | None


def check_envelope(event: Mapping[str, Any]) -> None:
    """Raise ValueError naming the field unless the event has what every Stripe event has: a
    string id and type, and the object it is about in data.object (no side effects).

    Checked for every event, acted on or not: the id is stored and echoed back, and an event
    without these parts was not written by Stripe.
    """
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID:
        raise ValueError(f"the event's 'id' must be a string of 1 to {MAX_EVENT_ID} "
                         f"characters, like Stripe's 'evt_...': got {_kind(event_id)}")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type or len(event_type) > MAX_EVENT_TYPE:
        raise ValueError(f"the event's 'type' must be a string of 1 to {MAX_EVENT_TYPE} "
                         f"characters, like 'payment_intent.succeeded': got {_kind(event_type)}")
    data = event.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        raise ValueError(f"event {event_id} has no JSON object in 'data.object': Stripe puts "
                         "the object the event is about there")


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if value is None:
        return "nothing"
    return f"a JSON {'object' if isinstance(value, Mapping) else type(value).__name__}"


def read_event(event: Mapping[str, Any]) -> IntentEvent | None:
    """The payment facts of an event, or None for a type peakshop ignores.

    Raises ValueError naming the field when an event of a handled type is malformed.
    """
    event_type = event.get("type")
    if event_type not in HANDLED_TYPES:
        return None
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID:
        raise ValueError(f"the event has no usable 'id': got {event_id!r}")
    data = event.get("data")
    intent = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(intent, Mapping) or not isinstance(intent.get("id"), str):
        raise ValueError(f"{event_type} event {event_id} has no PaymentIntent in data.object")
    metadata = intent.get("metadata")
    order_id = metadata.get("order_id") if isinstance(metadata, Mapping) else None
    amount = intent.get("amount")
    currency = intent.get("currency")
    return IntentEvent(
        event_id=event_id,
        event_type=event_type,
        intent_id=intent["id"],
        order_id=order_id if isinstance(order_id, str) and order_id else None,
        amount=amount if isinstance(amount, int) else None,
        currency=currency.lower() if isinstance(currency, str) else None,
        failure_reason=failure_reason(intent) if event_type == PAYMENT_FAILED else "",
    )


def plan(event: IntentEvent, order: OrderState | None) -> Effect:
    """What the event does to the order (no side effects)."""
    if order is None:
        return Effect.NOTHING
    if event.event_type == SUCCEEDED:
        if order.status == "pending_payment":
            return Effect.MARK_PAID if amount_matches(event, order) else Effect.REFUND
        if order.status in ("paid", "confirmed") and order.payment_reference == event.intent_id:
            return Effect.NOTHING
        return Effect.REFUND
    if order.status == "pending_payment" and order.payment_reference in (None, event.intent_id):
        return Effect.MARK_FAILED
    # A failure of an intent the order no longer waits on, or of an order already settled.
    return Effect.NOTHING


def amount_matches(event: IntentEvent, order: OrderState) -> bool:
    """True when the intent is for exactly the order's total, in the order's currency."""
    return event.amount == order.total_amount and event.currency == order.currency.lower()


def refund_note(event: IntentEvent, order: OrderState, outcome: str) -> str:
    """What the merchant reads on the order about a payment given back (no side effects)."""
    if order.status == "pending_payment":
        cause = (f"payment {event.intent_id} of {event.amount} {event.currency} does not match "
                 f"the order total of {order.total_amount} {order.currency.lower()}")
    elif order.status in ("paid", "confirmed"):
        cause = f"second payment {event.intent_id} after {order.payment_reference}"
    else:
        cause = (f"{order.failure_reason or order.status}; payment {event.intent_id} "
                 f"arrived after the order was {order.status}")
    return f"{cause}: {outcome}"[:MAX_NOTE]


def order_id_is_plausible(order_id: str | None) -> bool:
    """Order ids are uuid4 hex; anything else cannot name one of our orders."""
    return order_id is not None and len(order_id) == ORDER_ID_LENGTH and order_id.isalnum()
