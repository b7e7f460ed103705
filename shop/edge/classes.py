"""What a request is worth to the shop, from its method, path and User-Agent alone (pure).

The gate knows less than Flask (no routing, no session): it classes only to order the
requests waiting for gunicorn, most valuable first, and never refuses by class. Operations
and merchants come first (probes, the scaler's scrape and the back-office must not wait
behind a crowd), then checkouts, carts, visitors let in, and anonymous browsing.
"""

from __future__ import annotations

import re

from shop.waiting_room.decision import RequestClass
from shop.waiting_room.paths import CRAWLER_AGENT, api_browse

CHECKOUT_PATH = re.compile(r"/api/v1/carts/[^/]+/checkout|/api/v1/orders/.*|/orders/.*"
                           r"|/shops/[^/]+/checkout")
CART_PATH = re.compile(r"/api/v1/carts/.*|/shops/[^/]+/cart(/.*)?")
BROWSE_PAGE = re.compile(r"/shops/[^/]+/(products/[^/]+)?")


def request_class(method: str, path: str, user_agent: str, admitted: bool) -> RequestClass:
    """The class of a request; `admitted`: the room let its visitor in (a pass, or now)."""
    if CHECKOUT_PATH.fullmatch(path):
        return RequestClass.CHECKOUT
    if CART_PATH.fullmatch(path):
        return RequestClass.CART
    if api_browse(method, path) is not None or BROWSE_PAGE.fullmatch(path):
        if CRAWLER_AGENT.search(user_agent):
            return RequestClass.CRAWLER
        return RequestClass.ADMITTED_BROWSE if admitted else RequestClass.ANONYMOUS_BROWSE
    return RequestClass.ESSENTIAL
