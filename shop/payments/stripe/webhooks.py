"""Stripe webhooks: check the signature, then apply each event to its order exactly once.

Replays change nothing: the event's id goes into `processed_events` in the same transaction
as its effect, so a second delivery, or two concurrent ones, finds it and stops. What each
event means is decided in `events`; this module only reads, refunds and writes.

A payment refunded because its order no longer waited for it (see `events`) is logged and
noted in the order's `failure_reason`, where the merchant sees it; if Stripe refuses the
refund, the note says to refund it by hand.
"""

from __future__ import annotations

import logging

import sqlalchemy.exc
from flask import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.core.errors import RETRY_AFTER_S, problem_response
from shop.core.resources import Resources
from shop.core.timeutil import utcnow
from shop.orders import queue
from shop.orders import service as orders
from shop.orders.models import Order, still_in
from shop.payments.interface import GatewayUnavailable
from shop.payments.models import ProcessedEvent
from shop.payments.stripe import api
from shop.payments.stripe.events import (
    Effect,
    IntentEvent,
    OrderState,
    check_envelope,
    order_id_is_plausible,
    plan,
    read_event,
    refund_note,
)
from shop.payments.stripe.gateway import StripeGateway

log = logging.getLogger(__name__)

ALREADY_PROCESSED = "already processed"
IGNORED = "ignored"
# Each attempt re-reads the order; it only repeats when the order changed under us.
MAX_ATTEMPTS = 3


class _OrderMoved(Exception):
    """The order changed between reading it and applying the event."""


def handle_event(resources: Resources, payload: bytes,
                 signature_header: str | None) -> Response | tuple[dict, int]:
    """Verify a Stripe webhook and apply it once; the HTTP answer for Stripe."""
    if not signature_header:
        return _refused("missing_signature",
                        "the Stripe-Signature header is missing: only events signed by Stripe "
                        "with this endpoint's secret are accepted")
    try:
        event = api.verify_event(payload, signature_header,
                                 resources.settings.stripe_webhook_secret or "")
        check_envelope(event)
        intent_event = read_event(event)
    except api.BadEvent as bad:
        return _refused(bad.code, bad.detail)
    except ValueError as problem:
        return _refused("malformed_event", str(problem))
    if intent_event is None:
        return _received(event.get("id"), IGNORED,
                         f"peakshop does not act on {event.get('type')!r} events")
    try:
        outcome = _apply(resources, intent_event)
    except GatewayUnavailable as problem:
        log.warning("event %s left for redelivery: %s", intent_event.event_id, problem)
        return problem_response(503, "dependency_unavailable",
                                "Service temporarily unavailable",
                                f"Stripe could not be reached to refund a late payment: {problem};"
                                f" retry in {RETRY_AFTER_S} seconds")
    except _OrderMoved:
        return problem_response(503, "order_busy", "Service temporarily unavailable",
                                "the order kept changing while this event was applied; "
                                f"retry in {RETRY_AFTER_S} seconds")
    if outcome == Effect.MARK_PAID.value:
        # Hand the order to the workers now; if Redis is down the outbox keeps it for later.
        queue.relay_soon(resources.database, resources.redis)
    return _received(intent_event.event_id, outcome)


def _apply(resources: Resources, event: IntentEvent) -> str:
    """Read, decide, act; repeat only if the order moved in between."""
    for _ in range(MAX_ATTEMPTS):
        with resources.database.reading() as session:
            if session.get(ProcessedEvent, event.event_id) is not None:
                return ALREADY_PROCESSED
            order = _find_order(session, event)
        effect = plan(event, order)
        note = None
        if effect is Effect.REFUND and order is not None:
            # Outside any transaction: a slow Stripe must not hold database locks. The
            # refund's idempotency key makes a repeat after a crash harmless.
            note = _refund(_stripe_gateway(resources), event, order)
        try:
            with resources.database.transaction() as session:
                session.add(ProcessedEvent(event_id=event.event_id, gateway="stripe",
                                           event_type=event.event_type))
                # A concurrent delivery of the same event stops at this insert.
                session.flush()
                _make_effect(session, effect, event, order, note)
        except _OrderMoved:
            continue
        except sqlalchemy.exc.IntegrityError:
            return ALREADY_PROCESSED
        return effect.value
    raise _OrderMoved


def _find_order(session: Session, event: IntentEvent) -> OrderState | None:
    order = None
    if order_id_is_plausible(event.order_id):
        order = session.get(Order, event.order_id)
    if order is None:
        order = session.scalar(select(Order).where(Order.payment_reference == event.intent_id)
                               .limit(1))
    if order is None:
        log.info("Stripe event %s names no order of ours (intent %s, order_id %r)",
                 event.event_id, event.intent_id, event.order_id)
        return None
    return OrderState(order_id=order.id, status=order.status,
                      payment_reference=order.payment_reference,
                      total_amount=order.total_amount, currency=order.currency,
                      failure_reason=order.failure_reason)


def _refund(gateway: StripeGateway, event: IntentEvent, order: OrderState) -> str:
    try:
        refund_id = gateway.refund(event.intent_id)
    except api.Rejected as rejected:
        log.error("payment %s for order %s (%s) must be refunded by hand: Stripe refused the "
                  "refund: %s", event.intent_id, order.order_id, order.status, rejected)
        return refund_note(event, order, f"NOT refunded ({rejected.code}), refund it by hand")
    log.warning("refunded payment %s for order %s, which was %s: %s", event.intent_id,
                order.order_id, order.status, refund_id or "refunded earlier")
    return refund_note(event, order, f"refunded ({refund_id or 'earlier'})")


def _make_effect(session: Session, effect: Effect, event: IntentEvent,
                 order: OrderState | None, note: str | None) -> None:
    if order is None or effect is Effect.NOTHING:
        return
    if effect is Effect.MARK_PAID:
        if not orders.mark_paid(session, order.order_id, event.intent_id):
            raise _OrderMoved
    elif effect is Effect.MARK_FAILED:
        if not orders.mark_payment_failed(session, order.order_id, event.failure_reason):
            raise _OrderMoved
        session.execute(update(Order).where(Order.id == order.order_id,
                                            Order.payment_reference.is_(None))
                        .values(payment_reference=event.intent_id))
    elif effect is Effect.REFUND:
        # The status stays as it is: the note records the refund without reviving anything.
        noted = session.execute(update(Order).where(Order.id == order.order_id,
                                                    still_in(order.status))
                                .values(failure_reason=note, updated_at=utcnow()))
        if noted.rowcount != 1:
            raise _OrderMoved


def _stripe_gateway(resources: Resources) -> StripeGateway:
    gateway = resources.gateway
    if not isinstance(gateway, StripeGateway):
        raise TypeError(f"Stripe webhooks need the stripe gateway: this process runs "
                        f"{gateway.name!r} (PEAKSHOP_PAYMENT_GATEWAY)")
    return gateway


def _refused(code: str, detail: str) -> Response:
    return problem_response(400, code, "Webhook refused", detail)


def _received(event_id: object, outcome: str, detail: str | None = None) -> tuple[dict, int]:
    body: dict = {"received": True, "event_id": event_id, "outcome": outcome}
    if detail:
        body["detail"] = detail
    return body, 200
