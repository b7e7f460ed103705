"""Which JSON API requests meet the waiting room, read from the method and path alone (no
Flask routing): the WSGI layer in front of Flask (`gate.FastLine`) and the edge gate in front
of gunicorn (`shop.edge`) answer exactly the same requests.
"""

from __future__ import annotations

import re

# Search engines and link previews announce themselves; HTTP libraries do not count, since
# shops' own apps and integrations use them.
CRAWLER_AGENT = re.compile(r"bot\b|crawl|spider|slurp|facebookexternalhit|bingpreview|"
                           r"scrapy|httrack", re.IGNORECASE)
API_BROWSE = re.compile(r"/api/v1/shops/([^/]+)/(products(?:/[^/]+)?|carts)")
# The URL rules of the routes these requests reach, as the metrics label them (a test checks
# them against the app's url_map).
API_BROWSE_RULES = {"products": "/api/v1/shops/<slug>/products",
                    "product": "/api/v1/shops/<slug>/products/<sku>",
                    "carts": "/api/v1/shops/<slug>/carts"}


def api_browse(method: str, path: str) -> tuple[str, str] | None:
    """The shop and the URL rule of a JSON API request that meets the room (browsing the
    catalog and starting a cart: `gate.BROWSE_ENDPOINTS`), else None. `path` is decoded
    (UTF-8), as Flask routes it."""
    match = API_BROWSE.fullmatch(path)
    if match is None:
        return None
    resource = match[2]
    if not ((method in ("GET", "HEAD") and resource != "carts")
            or (method == "POST" and resource == "carts")):
        return None
    return match[1], API_BROWSE_RULES["product" if "/" in resource else resource]


# The storefront's pages that meet the room (`gate.BROWSE_PAGES` read with GET): the catalog,
# a product, and the cart page (a browser with a cart there goes through: the edge gate reads
# the session for it). Adding to a cart is a form POST, left to the app's own room.
PAGE_BROWSE = re.compile(r"/shops/([^/]+)/(products/[^/]+|cart)?")
PAGE_BROWSE_RULES = {"": "/shops/<slug>/", "products": "/shops/<slug>/products/<sku>",
                     "cart": "/shops/<slug>/cart"}


def page_browse(method: str, path: str) -> tuple[str, str] | None:
    """The shop and the URL rule of a storefront page read that meets the room, else None."""
    if method not in ("GET", "HEAD"):
        return None
    match = PAGE_BROWSE.fullmatch(path)
    if match is None:
        return None
    return match[1], PAGE_BROWSE_RULES[(match[2] or "").split("/")[0]]
