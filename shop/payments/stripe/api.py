"""Every call peakshop makes into the official `stripe` library; callers see plain dicts.

SDK errors leave this module as one of a few outcomes the rest of the package understands:

    GatewayUnavailable   unreachable, 5xx, rate limited, or our API key refused: retry later
    Declined             the card or its issuer said no (HTTP 402)
    IdempotencyConflict  the idempotency key was used before with different parameters
    Rejected             Stripe refused the request as sent (unknown payment method, bad value)
    BadEvent             a webhook whose signature or body does not check out
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe

from shop.core.edge import RefusedBody, loads_strict
from shop.payments.interface import GatewayUnavailable

log = logging.getLogger(__name__)

# A checkout holds a web worker while it waits, so a hung connection must give up well before
# gunicorn's worker timeout; confirming a card normally takes one to three seconds.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 20.0
# The SDK's own retries resend the same idempotency key, so Stripe charges at most once.
NETWORK_RETRIES = 2


class Declined(Exception):
    """The card or its issuer refused the payment."""

    def __init__(self, reason: str, payment_intent_id: str | None):
        super().__init__(reason)
        self.reason = reason
        self.payment_intent_id = payment_intent_id


class Rejected(Exception):
    """Stripe refused the request as sent; sending it again will not help."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class IdempotencyConflict(Exception):
    """An earlier request with the same idempotency key carried different parameters."""


class BadEvent(Exception):
    """A webhook body that is not a genuine, well-formed Stripe event."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def connect(api_key: str, api_base: str | None = None) -> stripe.StripeClient:
    """A client for Stripe's API, or for a Stripe-compatible server at `api_base`."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base.rstrip("/")} if api_base else None,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)),
    )


def create_payment_intent(client: stripe.StripeClient, params: dict[str, Any],
                          idempotency_key: str) -> dict[str, Any]:
    """Create (and, with `confirm`, confirm) a PaymentIntent; returns it as a dict."""
    with _translated_errors("creating a PaymentIntent"):
        intent = client.v1.payment_intents.create(params, {"idempotency_key": idempotency_key})
    return intent.to_dict()


def payment_method_from_token(client: stripe.StripeClient, token: str,
                              idempotency_key: str) -> str:
    """Turn a legacy card token (`tok_...`) into a PaymentMethod; returns its id."""
    with _translated_errors("turning a card token into a PaymentMethod"):
        method = client.v1.payment_methods.create({"type": "card", "card": {"token": token}},
                                                  {"idempotency_key": idempotency_key})
    return method.id


def refund_payment_intent(client: stripe.StripeClient, payment_intent_id: str,
                          idempotency_key: str) -> str | None:
    """Refund a PaymentIntent in full; the refund id, or None if it was refunded before."""
    try:
        with _translated_errors("refunding a PaymentIntent"):
            refund = client.v1.refunds.create({"payment_intent": payment_intent_id},
                                              {"idempotency_key": idempotency_key})
    except Rejected as rejected:
        if rejected.code == "charge_already_refunded":
            return None
        raise
    return refund.id


def verify_event(payload: bytes, signature_header: str, secret: str) -> dict[str, Any]:
    """The event in `payload` once its Stripe-Signature checks out; raises BadEvent."""
    try:
        event = stripe.Webhook.construct_event(payload, signature_header, secret)
    except stripe.SignatureVerificationError as problem:
        raise BadEvent("invalid_signature",
                       f"the Stripe-Signature header does not match this body: "
                       f"{problem.user_message}; sign with the endpoint's secret "
                       "(STRIPE_WEBHOOK_SECRET)") from None
    except ValueError as problem:  # also UnicodeDecodeError and json.JSONDecodeError
        raise BadEvent("malformed_event",
                       f"the body is not a Stripe event in UTF-8 JSON: {problem}") from None
    except (AttributeError, TypeError):
        # The SDK takes any JSON for an object; a list or a number is no event either.
        raise BadEvent("malformed_event",
                       "the body is not a Stripe event: expected a JSON object") from None
    # The SDK's parser takes what the API's own JSON bodies may not hold (NaN, lone
    # surrogates, NUL): values no table can store and no answer can carry. A signed body is
    # still refused for them, the way every other body is.
    try:
        loads_strict(payload)
    except RefusedBody as refused:
        raise BadEvent("malformed_event",
                       f"the body is not a Stripe event: {refused.problem.detail}") from None
    return event.to_dict()


@contextmanager
def _translated_errors(action: str) -> Iterator[None]:
    try:
        yield
    except stripe.CardError as problem:
        error = _error_body(problem)
        intent = error.get("payment_intent") or {}
        raise Declined(error.get("decline_code") or problem.code or "card_declined",
                       intent.get("id")) from None
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as problem:
        raise GatewayUnavailable(f"Stripe did not answer while {action}: "
                                 f"{_one_line(problem.user_message)}") from None
    except (stripe.AuthenticationError, stripe.PermissionError) as problem:
        # Our key is at fault, not the shopper: keep the order until the operator fixes it.
        log.error("Stripe refused the API key while %s: %s; check STRIPE_API_KEY",
                  action, problem.user_message)
        raise GatewayUnavailable(f"Stripe refused the API key while {action}") from None
    except stripe.IdempotencyError as problem:
        raise IdempotencyConflict(problem.user_message) from None
    except stripe.StripeError as problem:
        if problem.http_status is not None and (problem.http_status >= 500
                                                or problem.http_status == 409):
            # 409 is a lock held by a concurrent request on the same object: try again later.
            raise GatewayUnavailable(f"Stripe could not complete {action} now: "
                                     f"{_one_line(problem.user_message)}") from None
        raise Rejected(problem.code or "invalid_request",
                       _one_line(problem.user_message) or "no reason given") from None


def _error_body(problem: stripe.StripeError) -> dict[str, Any]:
    body = problem.json_body if isinstance(problem.json_body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _one_line(message: str | None, limit: int = 300) -> str:
    return " ".join((message or "").split())[:limit]
