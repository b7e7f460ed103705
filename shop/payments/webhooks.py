"""Payment gateway webhooks."""

from __future__ import annotations

from flask import Blueprint, request

from shop.core import resources
from shop.core.edge import takes_raw_body
from shop.core.errors import Problem
from shop.core.openapi import Response, api
from shop.payments.schemas import WebhookReceived

blueprint = Blueprint("payment_webhooks", __name__, url_prefix="/api/v1/payments")


@blueprint.post("/stripe/webhook")
@takes_raw_body
@api.validate(resp=Response(HTTP_200=WebhookReceived, HTTP_400=None), tags=["payments"])
def stripe_webhook():
    """Apply a signed Stripe event (payment_intent.succeeded / payment_failed) once."""
    current = resources.current()
    if current.settings.payment_gateway != "stripe":
        # Nothing can be verified without a webhook secret: refused like a bad signature.
        raise Problem("this server does not take Stripe payments, so no Stripe-Signature "
                      "can be verified (PEAKSHOP_PAYMENT_GATEWAY is not 'stripe')",
                      code="gateway_not_configured", status=400)
    from shop.payments.stripe.webhooks import handle_event

    return handle_event(current, request.get_data(), request.headers.get("Stripe-Signature"))
