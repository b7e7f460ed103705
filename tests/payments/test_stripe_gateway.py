"""The stripe gateway on its own, against localstripe (a stand-in for Stripe's API).

Some tests go through `StripeProxy`, a recording reverse proxy in front of localstripe, to see
the headers the `stripe` library sent and to answer as an overloaded Stripe does (5xx, 429),
which localstripe itself never does.
"""

from __future__ import annotations

import uuid

import pytest

from shop.core.settings import Settings
from shop.payments.interface import (
    GatewayUnavailable,
    InvalidPaymentToken,
    PaymentRequest,
    PaymentStatus,
)
from shop.payments.stripe.gateway import StripeGateway
from tests.payments.stripe_proxy import StripeProxy
from tests.payments.stripe_testkit import (
    API_KEY,
    DECLINED_PAYMENT_METHOD,
    THREE_D_SECURE_CARD,
    WEBHOOK_SECRET,
    card_payment_method,
    intent,
)

INTENTS = "/v1/payment_intents"
PAYMENT_METHODS = "/v1/payment_methods"


def gateway_at(api_base: str, api_key: str = API_KEY) -> StripeGateway:
    return StripeGateway(Settings(database_url="sqlite://", redis_url=None, secret_key="test",
                                  payment_gateway="stripe", stripe_api_key=api_key,
                                  stripe_webhook_secret=WEBHOOK_SECRET,
                                  stripe_api_base=api_base))


def payment(token: str, amount: int = 1999) -> PaymentRequest:
    order_id = uuid.uuid4().hex
    return PaymentRequest(order_id=order_id, amount=amount, currency="EUR", token=token,
                          email="shopper@example.com", idempotency_key=f"order-{order_id}")


@pytest.fixture
def proxy(localstripe):
    proxy = StripeProxy(localstripe.url).start()
    yield proxy
    proxy.stop()


def test_a_paid_intent_is_created_as_asked(localstripe, stripe_client):
    request = payment("pm_card_visa", amount=4321)
    result = gateway_at(localstripe.url).charge(request)
    assert result.status is PaymentStatus.SUCCEEDED
    created = intent(stripe_client, result.reference)
    assert (created["amount"], created["currency"]) == (4321, "eur")
    assert created["metadata"] == {"order_id": request.order_id}


def test_a_declined_card_fails_with_the_decline_reason(localstripe):
    result = gateway_at(localstripe.url).charge(payment(DECLINED_PAYMENT_METHOD))
    assert result.status is PaymentStatus.FAILED
    assert result.failure_reason == "card_declined"


def test_3d_secure_is_pending_with_the_client_secret_for_the_browser(localstripe,
                                                                     stripe_client):
    token = card_payment_method(stripe_client, THREE_D_SECURE_CARD)
    result = gateway_at(localstripe.url).charge(payment(token))
    assert result.status is PaymentStatus.PENDING
    assert result.client_secret == intent(stripe_client, result.reference)["client_secret"]


def test_an_unknown_payment_method_fails_the_payment(localstripe):
    result = gateway_at(localstripe.url).charge(payment("pm_nobody_made_this"))
    assert result.status is PaymentStatus.FAILED
    assert result.failure_reason


def test_a_refused_api_key_means_unavailable_not_declined(localstripe):
    with pytest.raises(GatewayUnavailable, match="API key"):
        gateway_at(localstripe.url, api_key="not-a-secret-key").charge(payment("pm_card_visa"))


def test_the_order_key_is_stripes_idempotency_key(proxy):
    request = payment("pm_card_visa")
    assert gateway_at(proxy.url).charge(request).status is PaymentStatus.SUCCEEDED
    [sent] = proxy.posts_to(INTENTS)
    assert sent.headers["idempotency-key"] == request.idempotency_key
    assert (sent.form["payment_method"], sent.form["confirm"]) == ("pm_card_visa", "true")


@pytest.mark.parametrize("status, error_type", [
    (500, "api_error"),
    (503, "api_error"),
    (429, "rate_limit_error"),
])
def test_an_ailing_stripe_means_unavailable(proxy, status, error_type):
    proxy.fail_with(status, error_type, "Stripe is having a moment")
    with pytest.raises(GatewayUnavailable):
        gateway_at(proxy.url).charge(payment("pm_card_visa"))


def test_every_retry_of_one_payment_carries_the_same_idempotency_key(proxy):
    request = payment("pm_card_visa")
    gateway = gateway_at(proxy.url)
    proxy.fail_with(500, "api_error", "lost in transit")
    with pytest.raises(GatewayUnavailable):
        gateway.charge(request)
    proxy.heal()
    assert gateway.charge(request).status is PaymentStatus.SUCCEEDED
    sent = proxy.posts_to(INTENTS)
    assert len(sent) > 2  # the library's own retries, then the caller's
    assert {r.headers.get("idempotency-key") for r in sent} == {request.idempotency_key}


def test_a_legacy_token_becomes_a_payment_method_under_a_key_of_its_own(proxy):
    """localstripe cannot make PaymentMethods from tokens, so only the request is checked."""
    request = payment("tok_visa")
    gateway_at(proxy.url).charge(request)
    [sent] = proxy.posts_to(PAYMENT_METHODS)
    assert sent.form == {"type": "card", "card[token]": "tok_visa"}
    assert sent.headers["idempotency-key"] == f"{request.idempotency_key}-payment-method"


def test_a_key_reused_with_other_card_details_waits_for_the_webhook(proxy):
    proxy.fail_with(400, "idempotency_error", "Keys for idempotent requests can only be used "
                    "with the same parameters they were first used with.")
    result = gateway_at(proxy.url).charge(payment("pm_card_visa"))
    assert (result.status, result.reference) == (PaymentStatus.PENDING, None)


@pytest.mark.parametrize("token", ["pm_card_visa", "pm_1PqRsTuVwXyZ", "tok_visa",
                                   "tok_1Nv0FGQ9RKHgCVdK"])
def test_payment_methods_and_legacy_tokens_are_accepted(token):
    gateway_at("http://127.0.0.1:9").check_token(token)


@pytest.mark.parametrize("token", ["", "pm_", "tok_ok!", "card_123", "src_123", "4242424242424242",
                                   "pm_card visa"])
def test_hopeless_tokens_are_refused_naming_the_accepted_forms(token):
    with pytest.raises(InvalidPaymentToken, match="pm_card_visa"):
        gateway_at("http://127.0.0.1:9").check_token(token)
