"""Add to cart answered before Flask (`shop.core.early_writes`): the plain `PUT` of a line.

The answer is the view's own (`api.set_item_answer`); setting a quantity is safe to run
twice, so any failure but the caller's goes on to Flask from the start. What the app's
hooks do around it (the waiting room's shedder, the SLO count) is wired by
`shop.storefront.early_writes`.
"""

from __future__ import annotations

from collections.abc import Mapping

from shop.cart.api import set_item_answer
from shop.cart.schemas import CartOut, SetQuantity
from shop.core.early_writes import EarlyWrite
from shop.core.resources import Resources


def _set_item(current: Resources, view_args: Mapping[str, str], body: dict,
              environ: dict) -> dict:
    return set_item_answer(current, view_args["cart_id"], view_args["sku"], body["quantity"])


WRITES = {"cart_api.set_item": EarlyWrite(_set_item, SetQuantity, CartOut)}
