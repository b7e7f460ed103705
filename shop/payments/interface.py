"""The contract every payment gateway keeps: dataclasses in, a dataclass out."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class PaymentStatus(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The gateway needs more time or a shopper action; its webhook settles the payment.
    PENDING = "pending"


@dataclass(frozen=True)
class PaymentRequest:
    order_id: str
    amount: int          # minor units
    currency: str
    token: str           # what the shopper's browser got from the gateway
    email: str
    idempotency_key: str  # the same key for every retry of one order's payment


@dataclass(frozen=True)
class PaymentResult:
    status: PaymentStatus
    reference: str | None = None       # the gateway's id for this payment
    failure_reason: str | None = None
    client_secret: str | None = None   # for a browser that must finish the payment itself


class GatewayUnavailable(Exception):
    """The gateway could not be reached; the same request may be retried later."""


class InvalidPaymentToken(ValueError):
    """The token can never pay: the message says which tokens this gateway takes."""


class Gateway(Protocol):
    name: str

    def check_token(self, token: str) -> None:
        """Raise InvalidPaymentToken before any stock is reserved for a hopeless token."""

    def charge(self, request: PaymentRequest) -> PaymentResult:
        """Take the payment, or say why not. Raises GatewayUnavailable when unreachable."""
