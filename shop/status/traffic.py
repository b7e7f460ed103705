"""Which component a request belongs to, and the after_request hook that counts it."""

from __future__ import annotations

from flask import Flask, Response, request

from shop.status.components import Component
from shop.status.slo_batch import SloBatch

# Probes, scrapes, the status pages themselves and the operators' API say nothing about
# what customers live through.
NOT_COUNTED_PREFIXES = ("/healthz", "/readyz", "/metrics", "/static", "/api/v1/ops",
                        "/api/v1/openapi")


def component_of(rule: str | None) -> Component | None:
    """The component a route (its URL rule, never the raw path) belongs to; None: not
    counted. No side effects."""
    if rule is None or rule.startswith(NOT_COUNTED_PREFIXES) or rule.endswith("/status"):
        return None
    if "/checkout" in rule:
        return Component.CHECKOUT
    if rule.startswith("/api/v1/payments"):
        return Component.PAYMENTS
    if "/orders" in rule:
        return Component.ORDER_PROCESSING
    return Component.STOREFRONT


def is_bad(response: Response) -> bool | None:
    """True for a failure of ours (5xx); None for a deliberate refusal that is neither."""
    if response.status_code < 500:
        return False
    if response.status_code == 503 and response.mimetype == "application/problem+json":
        # The waiting room turns visitors away on purpose: that is the surge plan working.
        if b'"waiting_room"' in response.get_data():
            return None
    return True


def init_app(app: Flask) -> None:
    # Added up in the process and written to Redis within a second (see slo_batch): a
    # request no longer pays a Redis round trip for its own count.
    counts = SloBatch(app.extensions["peakshop"].redis)

    @app.after_request
    def count_for_slo(response: Response) -> Response:
        component = component_of(request.url_rule.rule if request.url_rule else None)
        if component is None:
            return response
        bad = is_bad(response)
        if bad is not None:
            counts.add(component, good=int(not bad), bad=int(bad))
        return response
