"""The Stripe gateway: one PaymentIntent per order, created and confirmed in a single call.

    succeeded                            -> SUCCEEDED
    requires_payment_method, canceled,
    a declined card (HTTP 402)           -> FAILED, with the decline code as the reason
    requires_action, processing, ...     -> PENDING, with the client_secret the browser needs;
                                            the webhook settles the order later
    unreachable, 5xx, rate limited       -> GatewayUnavailable (checkout answers 503)

The order's idempotency key is Stripe's idempotency key, so a checkout retried after a lost
answer gets the very same PaymentIntent back instead of charging the card twice. A legacy card
token (`tok_...`) is first turned into a PaymentMethod, under a key derived from the same one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from shop.core.settings import ConfigError, Settings
from shop.payments.interface import (
    InvalidPaymentToken,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
)
from shop.payments.stripe import api

log = logging.getLogger(__name__)

ACCEPTED_TOKENS = ("a PaymentMethod id like 'pm_card_visa' (from Stripe.js) or a legacy card "
                   "token like 'tok_visa'")
# Stripe ids are a type prefix, an underscore and letters, digits or underscores.
TOKEN_PATTERN = re.compile(r"(pm|tok)_[A-Za-z0-9_]+")

FAILED_STATUSES = ("requires_payment_method", "canceled")


class StripeGateway:
    """Payments through Stripe's PaymentIntents API (or a Stripe-compatible server)."""

    name = "stripe"

    def __init__(self, settings: Settings):
        if not settings.stripe_api_key:
            raise ConfigError("STRIPE_API_KEY is required when PEAKSHOP_PAYMENT_GATEWAY=stripe: "
                              "set it to the secret key from your Stripe dashboard")
        self.client = api.connect(settings.stripe_api_key, settings.stripe_api_base)

    def check_token(self, token: str) -> None:
        """Refuse tokens that can never pay before any stock is reserved for them."""
        if not token:
            raise InvalidPaymentToken(f"the payment token is empty: send {ACCEPTED_TOKENS}")
        if not TOKEN_PATTERN.fullmatch(token):
            raise InvalidPaymentToken(f"the stripe gateway takes {ACCEPTED_TOKENS}: "
                                      f"got {token!r}")

    def charge(self, request: PaymentRequest) -> PaymentResult:
        """Create and confirm the order's PaymentIntent, and say how it went."""
        self.check_token(request.token)
        try:
            payment_method = request.token
            if payment_method.startswith("tok_"):
                # Stripe keeps this conversion for backwards compatibility; the derived key
                # lets a retry get the same PaymentMethod back instead of reusing the token.
                payment_method = api.payment_method_from_token(
                    self.client, request.token, f"{request.idempotency_key}-payment-method")
            intent = api.create_payment_intent(self.client,
                                               intent_params(request, payment_method),
                                               request.idempotency_key)
        except api.Declined as declined:
            return PaymentResult(PaymentStatus.FAILED, reference=declined.payment_intent_id,
                                 failure_reason=declined.reason)
        except api.IdempotencyConflict as conflict:
            # An earlier attempt for this order used other card details; whatever became of
            # it reaches us by webhook (it carries the order id), so wait for that.
            log.warning("payment for order %s already attempted with other details: %s",
                        request.order_id, conflict)
            return PaymentResult(PaymentStatus.PENDING)
        except api.Rejected as rejected:
            log.warning("Stripe rejected the payment for order %s: %s", request.order_id,
                        rejected)
            return PaymentResult(PaymentStatus.FAILED, failure_reason=rejected.code)
        return result_for_intent(intent)

    def refund(self, payment_intent_id: str) -> str | None:
        """Give the whole payment back (once, however often asked); the refund id."""
        return api.refund_payment_intent(self.client, payment_intent_id,
                                         idempotency_key=f"refund-{payment_intent_id}")


def intent_params(request: PaymentRequest, payment_method: str) -> dict[str, Any]:
    """The PaymentIntent to create for a payment request (no side effects)."""
    return {
        "amount": request.amount,
        "currency": request.currency.lower(),
        "confirm": True,
        # Cards only: they confirm without a return_url, and 3-D Secure is finished by
        # Stripe.js in the shopper's browser with the client_secret.
        "payment_method_types": ["card"],
        # Webhooks find the order by this, even if checkout never heard back from Stripe.
        "metadata": {"order_id": request.order_id},
        "payment_method": payment_method,
    }


def result_for_intent(intent: Mapping[str, Any]) -> PaymentResult:
    """Map a PaymentIntent onto the gateway contract (no side effects)."""
    status = intent.get("status")
    reference = intent.get("id")
    if status == "succeeded":
        return PaymentResult(PaymentStatus.SUCCEEDED, reference=reference)
    if status in FAILED_STATUSES:
        return PaymentResult(PaymentStatus.FAILED, reference=reference,
                             failure_reason=failure_reason(intent))
    # requires_action (3-D Secure), processing, requires_confirmation, requires_capture, and
    # any status Stripe adds later: not settled yet, the webhook will tell.
    return PaymentResult(PaymentStatus.PENDING, reference=reference,
                         client_secret=intent.get("client_secret"))


def failure_reason(intent: Mapping[str, Any]) -> str:
    """Why a PaymentIntent did not pay: the decline code when the issuer gave one."""
    error = intent.get("last_payment_error") or {}
    reason = error.get("decline_code") or error.get("code")
    if reason:
        return str(reason)
    if intent.get("status") == "canceled":
        return f"canceled_{intent.get('cancellation_reason') or 'by_request'}"
    return "payment_method_required"
