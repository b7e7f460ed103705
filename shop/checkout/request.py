"""The checkout request: validated in full before any stock is touched. No Flask imports."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from shop.checkout import pricing
from shop.core import validation
from shop.core.errors import InvalidInput
from shop.fulfilment import countries
from shop.payments.interface import Gateway, InvalidPaymentToken

ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country")
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class ExpectedTotal:
    """The total the shopper saw; `currency` None means "whatever the cart is priced in"."""

    amount: int
    currency: str | None


@dataclass(frozen=True)
class CheckoutRequest:
    email: str
    shipping_address: dict[str, str]
    gateway: str
    token: str
    expected_total: ExpectedTotal | None = None
    shipping_option: str | None = None
    # SHA-256 of the body as sent: a replay must carry the very same body.
    fingerprint: str | None = None


def parse_request(data: dict[str, Any], gateway: Gateway) -> CheckoutRequest:
    """Validate the checkout body fully before any stock is touched."""
    email = validation.email(data)
    address = data.get("shipping_address")
    if not isinstance(address, dict):
        raise InvalidInput("'shipping_address' must be an object with "
                           f"{', '.join(ADDRESS_FIELDS)}")
    shipping = {field: validation.text(address, field, max_length=200)
                for field in ADDRESS_FIELDS}
    if "line2" in address:
        shipping["line2"] = validation.text(address, "line2", max_length=200, required=False)
    shipping["country"] = countries.parse_country(shipping["country"],
                                                  "shipping_address.country")
    payment = data.get("payment")
    if not isinstance(payment, dict):
        raise InvalidInput("'payment' must be an object like "
                           f"{{\"gateway\": \"{gateway.name}\", \"token\": \"...\"}}")
    gateway_name = validation.text(payment, "gateway", max_length=32)
    if gateway_name != gateway.name:
        raise InvalidInput(f"this shop takes payments through '{gateway.name}': "
                           f"got {gateway_name!r}", code="unsupported_gateway")
    token = validation.text(payment, "token", max_length=255)
    try:
        gateway.check_token(token)
    except InvalidPaymentToken as problem:
        raise InvalidInput(str(problem), code="invalid_payment_token") from None
    return CheckoutRequest(email, shipping, gateway_name, token,
                           expected_total=parse_expected_total(data),
                           shipping_option=pricing.parse_option_id(data),
                           fingerprint=fingerprint(data))


def parse_expected_total(data: dict[str, Any]) -> ExpectedTotal | None:
    """The optional `expected_total`: money, or a bare amount in the cart's currency."""
    value = data.get("expected_total")
    if value is None:
        return None
    if isinstance(value, dict) and "currency" not in value and value.keys() <= {"amount"}:
        value = value.get("amount")  # an amount alone: in the cart's currency
    if isinstance(value, int) and not isinstance(value, bool):
        amount = validation.integer({"amount": value}, "amount", minimum=0,
                                    maximum=validation.MAX_AMOUNT)
        return ExpectedTotal(amount, None)
    amount, currency = validation.money(data, "expected_total")
    return ExpectedTotal(amount, currency)


def fingerprint(data: dict[str, Any]) -> str:
    """The body's identity, whatever the order of its keys or its whitespace."""
    try:
        # ASCII escapes (the default): a lone surrogate in a string must not break the hash.
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    except RecursionError:
        raise InvalidInput("the body is nested too deeply: send the checkout fields "
                           "only") from None
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                           code="invalid_idempotency_key")
    return key
