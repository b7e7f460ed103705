"""Add to cart answered before Flask (`shop.core.early_writes`): the plain `PUT` of a line.

The answer is the view's own (`api.set_item_answer`); what the app's hooks would do around
it is wired here: the waiting room's shedder decides first (a cart is never queued, but an
overloaded process sheds it as Flask's gate would: Flask then answers the 503), and every
answer is counted in the SLO's events and the process's load signal as the hooks count it.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from shop.cart.api import set_item_answer
from shop.cart.schemas import CartOut, SetQuantity
from shop.core.early_writes import EarlyWrite, answer_writes_early
from shop.core.resources import Resources
from shop.status.slo_batch import SloBatch
from shop.status.traffic import component_of
from shop.waiting_room.decision import RequestClass, Verdict, shed_or_admit

GATE_EXTENSION = "peakshop_waiting_room"


def _set_item(current: Resources, view_args: Mapping[str, str], body: SetQuantity) -> dict:
    return set_item_answer(current, view_args["cart_id"], view_args["sku"], body.quantity)


WRITES = {"cart_api.set_item": EarlyWrite(_set_item, SetQuantity, CartOut)}


def init_app(app: Flask) -> None:
    """Call before the waiting room wraps the app (its FastLine then runs first)."""
    counts = SloBatch(app.extensions["peakshop"].redis)

    def may_answer(environ: dict, endpoint: str) -> bool:
        gate = app.extensions.get(GATE_EXTENSION)
        if gate is None or not gate.shedding:
            return True
        return shed_or_admit(RequestClass.CART, gate.load_level(environ)) is Verdict.ADMIT

    def answered(environ: dict, rule: str, status: int, seconds: float) -> None:
        gate = app.extensions.get(GATE_EXTENSION)
        if gate is not None:
            gate.load.served(seconds)
        component = component_of(rule)
        if component is not None:
            bad = status >= 500
            counts.add(component, good=int(not bad), bad=int(bad))

    answer_writes_early(app, WRITES, may_answer, answered)
