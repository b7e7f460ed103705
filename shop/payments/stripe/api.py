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
import time
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
# How far a webhook's signed timestamp may be from our clock, either way.
SIGNATURE_TOLERANCE_S = stripe.Webhook.DEFAULT_TOLERANCE
# A timestamp and one 64-character signature per live endpoint secret: a few hundred characters.
MAX_SIGNATURE_HEADER = 2048


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


def verify_event(payload: bytes, signature_header: str, secret: str,
                 tolerance_s: int = SIGNATURE_TOLERANCE_S) -> dict[str, Any]:
    """The event in `payload` once its Stripe-Signature checks out; raises BadEvent.

    The signature is checked before the body is parsed, and the body is parsed by our strict
    loader rather than the SDK's: a signed body may still be nested too deep to parse, or hold
    values (NaN, lone surrogates, NUL) no table can store and no answer can carry.
    """
    _check_header_text(signature_header)
    text = _utf8_text(payload)
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance_s)
    except stripe.SignatureVerificationError as problem:
        raise BadEvent("invalid_signature",
                       f"the Stripe-Signature header does not check out: "
                       f"{_one_line(problem.user_message)}; Stripe signs each delivery with "
                       "the endpoint's secret (STRIPE_WEBHOOK_SECRET) and the current time"
                       ) from None
    _refuse_future_timestamp(signature_header, tolerance_s)
    return _event_object(text)


def _check_header_text(signature_header: str) -> None:
    if len(signature_header) > MAX_SIGNATURE_HEADER:
        raise BadEvent("invalid_signature",
                       f"the Stripe-Signature header is {len(signature_header)} characters "
                       f"long, more than the {MAX_SIGNATURE_HEADER} any Stripe signature "
                       "needs: send the header exactly as Stripe sent it")
    if not signature_header.isascii() or not signature_header.isprintable():
        # The SDK would compare such a signature with hmac.compare_digest, which raises
        # TypeError on non-ASCII text instead of saying no.
        raise BadEvent("invalid_signature",
                       "the Stripe-Signature header holds control or non-ASCII characters, "
                       "which no Stripe signature has: send the header exactly as Stripe "
                       "sent it (t=<unix time>,v1=<hex HMAC-SHA256>)")


def _utf8_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise BadEvent("malformed_event",
                       f"the body is not valid UTF-8 (byte {problem.start}): Stripe sends "
                       "events as UTF-8 JSON, so this one was not sent by Stripe or was "
                       "altered on the way") from None


def _refuse_future_timestamp(signature_header: str, tolerance_s: int) -> None:
    """The SDK's tolerance bounds only the past; a signature dated ahead would stay valid for
    as long as its date is ahead, long enough to replay it after its event was forgotten."""
    if _signed_timestamp(signature_header) > time.time() + tolerance_s:
        raise BadEvent("invalid_signature",
                       f"the signature's timestamp is in the future, more than {tolerance_s} "
                       "seconds ahead of this server's clock: Stripe signs with the current "
                       "time; check the sender's clock, or this server's")


def _signed_timestamp(signature_header: str) -> int:
    """The header's first t=, read as the SDK reads it (once the SDK has accepted the header,
    so it is there and is a number)."""
    for item in signature_header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value.partition("=")[0])
    raise ValueError("the Stripe-Signature header has no t= item")


def _event_object(text: str) -> dict[str, Any]:
    if not text.strip():
        raise BadEvent("malformed_event",
                       "the body is empty: Stripe posts each event as a JSON object")
    try:
        event = loads_strict(text)
    except RefusedBody as refused:
        raise BadEvent("malformed_event",
                       f"the body is not a Stripe event: {refused.problem.detail}") from None
    if not isinstance(event, dict):
        raise BadEvent("malformed_event",
                       f"the body is not a Stripe event: expected a JSON object, got "
                       f"{_json_kind(event)}")
    return event


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "true or false", int: "a number",
             float: "a number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


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
