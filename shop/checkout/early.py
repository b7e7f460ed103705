"""Checkout answered before Flask (`shop.core.early_writes`): the plain `POST` of a cart.

The answer is the view's own (`api.checkout_answer`). A checkout is not safe to run twice,
so a failure other than the caller's is answered here by the app's own error handlers (503
for a dependency down, a logged 500 for a bug) instead of being handed to Flask again. The
waiting room never turns a checkout away (it is never shed), so nothing is asked first; each
answer is counted in the SLO's events and the load signal, as for the cart's adds.
"""

from __future__ import annotations

from collections.abc import Mapping

from shop.checkout.api import checkout_answer
from shop.checkout.request import MAX_IDEMPOTENCY_KEY
from shop.checkout.schemas import CheckoutBody, Placed
from shop.core.early_writes import EarlyWrite
from shop.core.resources import Resources

IDEMPOTENCY_KEY = "HTTP_IDEMPOTENCY_KEY"
# An address, an e-mail, a payment token and an expected total fit in far less.
MAX_BODY = 4096


def _plain_key(environ: dict) -> bool:
    """No Idempotency-Key, or one of printable ASCII within the limit (the rest: Flask's
    header model and its problem)."""
    key = environ.get(IDEMPOTENCY_KEY)
    return key is None or (0 < len(key.strip()) and len(key) <= MAX_IDEMPOTENCY_KEY
                           and key.isascii() and key.isprintable())


def _checkout(current: Resources, view_args: Mapping[str, str], body: dict,
              environ: dict) -> tuple[dict, dict[str, str]]:
    return checkout_answer(current, view_args["cart_id"], environ.get(IDEMPOTENCY_KEY), body)


WRITES = {"checkout_api.checkout": EarlyWrite(_checkout, CheckoutBody, Placed, status=201,
                                              max_body=MAX_BODY, plain=_plain_key,
                                              rerun=False)}
