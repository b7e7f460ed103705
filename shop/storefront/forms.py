"""HTML form fields turned into the inputs the domain services take. No Flask imports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shop.cart import service as carts
from shop.checkout import service as checkout
from shop.core.errors import InvalidInput
from shop.payments import dummy

WHOLE_NUMBER = re.compile(r"[0-9]+")
# Labels for the dummy gateway's tokens: they are test cards, and the page says so.
TEST_CARD_LABELS = {
    "tok_ok": "Test card that pays (tok_ok)",
    "tok_declined": "Test card that is declined (tok_declined)",
}


def quantity(raw: str | None, *, minimum: int) -> int:
    """A quantity typed into a form, checked by the cart's own rules and `minimum`."""
    typed = (raw or "").strip()
    if not WHOLE_NUMBER.fullmatch(typed):
        raise InvalidInput(f"'quantity' must be a whole number: got {typed!r}")
    # Anything this long is over the cart's limit; don't build a huge int to say so.
    value = int(typed) if len(typed) <= 9 else carts.MAX_TYPED_QUANTITY + 1
    value = carts.parse_quantity(value)
    if value < minimum:
        raise InvalidInput(f"'quantity' must be at least {minimum}: got {value}")
    return value


def checkout_body(form: Mapping[str, str], gateway_name: str) -> dict[str, Any]:
    """The checkout form as the body the checkout service validates."""
    address = {field: form.get(field, "") for field in checkout.ADDRESS_FIELDS}
    if form.get("line2", "").strip():
        address["line2"] = form["line2"]
    body: dict[str, Any] = {
        "email": form.get("email", ""), "shipping_address": address,
        "payment": {"gateway": gateway_name, "token": form.get("payment_token", "")}}
    if form.get("shipping_option"):
        body["shipping_option"] = form["shipping_option"]
    amount = form.get("expected_total_amount")
    if amount is not None:
        # The total the page showed; a form that tampers with it is refused by validation.
        body["expected_total"] = {
            "amount": int(amount) if WHOLE_NUMBER.fullmatch(amount) and len(amount) <= 15
            else amount,
            "currency": form.get("expected_total_currency", "")}
    return body


def idempotency_key(form: Mapping[str, str]) -> str:
    """The key the checkout form was rendered with; a form without one is stale."""
    key = checkout.parse_idempotency_key(form.get("idempotency_key"))
    if key is None:
        raise InvalidInput("the form is missing its one-time key: reload the checkout page "
                           "and submit it again", code="invalid_idempotency_key")
    return key


def card_choices(gateway_name: str) -> list[tuple[str, str]]:
    """(token, label) pairs to offer as a select, or [] when the gateway takes real tokens."""
    if gateway_name != dummy.DummyGateway.name:
        return []
    return [(token, TEST_CARD_LABELS.get(token, token)) for token in dummy.TOKENS]
