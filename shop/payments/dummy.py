"""A gateway with no network for development and load tests: `tok_ok` pays, `tok_declined` fails."""

from __future__ import annotations

from shop.payments.interface import (
    InvalidPaymentToken,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
)

TOKENS = {
    "tok_ok": PaymentStatus.SUCCEEDED,
    "tok_declined": PaymentStatus.FAILED,
}


class DummyGateway:
    name = "dummy"

    def check_token(self, token: str) -> None:
        if token not in TOKENS:
            raise InvalidPaymentToken(f"the dummy gateway takes 'tok_ok' or 'tok_declined': "
                                      f"got {token!r}")

    def charge(self, request: PaymentRequest) -> PaymentResult:
        self.check_token(request.token)
        status = TOKENS[request.token]
        return PaymentResult(
            status=status,
            reference=f"dummy_{request.idempotency_key}",
            failure_reason="card_declined" if status is PaymentStatus.FAILED else None,
        )
