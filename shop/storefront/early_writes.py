"""Which shoppers' writes are answered before Flask, and what the app's hooks say of them.

Add to cart (`shop.cart.early`) and checkout (`shop.checkout.early`) are answered by
`shop.core.early_writes` when the request is plain. Around them, what Flask's hooks would do:
the waiting room's shedder is asked as its gate asks it (a cart is shed only when requests
would time out anyway, and Flask then answers the 503; a checkout never is), and every
answer counts in the SLO's good and bad events and in the process's service time, which
the load level is read from.
"""

from __future__ import annotations

from flask import Flask

from shop.cart.early import WRITES as CART_WRITES
from shop.checkout.early import WRITES as CHECKOUT_WRITES
from shop.core.early_writes import answer_writes_early
from shop.status.slo_batch import SloBatch
from shop.status.traffic import component_of
from shop.waiting_room.decision import RequestClass, Verdict, shed_or_admit
from shop.waiting_room.gate import CART_ENDPOINTS, CHECKOUT_ENDPOINTS

GATE_EXTENSION = "peakshop_waiting_room"
WRITES = {**CART_WRITES, **CHECKOUT_WRITES}


def request_class(endpoint: str) -> RequestClass:
    """The class the waiting room's gate gives these writes (no side effects)."""
    if endpoint in CHECKOUT_ENDPOINTS:
        return RequestClass.CHECKOUT
    if endpoint in CART_ENDPOINTS:
        return RequestClass.CART
    raise ValueError(f"{endpoint} is not a cart or checkout write")


def init_app(app: Flask) -> None:
    """Call before the waiting room wraps the app (its FastLine then runs first)."""
    counts = SloBatch(app.extensions["peakshop"].redis)
    classes = {endpoint: request_class(endpoint) for endpoint in WRITES}

    def may_answer(environ: dict, endpoint: str) -> bool:
        gate = app.extensions.get(GATE_EXTENSION)
        if gate is None or not gate.shedding:
            return True
        return shed_or_admit(classes[endpoint], gate.load_level(environ)) is Verdict.ADMIT

    def answered(environ: dict, rule: str, status: int, seconds: float) -> None:
        gate = app.extensions.get(GATE_EXTENSION)
        if gate is not None:
            gate.load.served(seconds)
        component = component_of(rule)
        if component is not None:
            bad = status >= 500
            counts.add(component, good=int(not bad), bad=int(bad))

    answer_writes_early(app, WRITES, may_answer, answered)
