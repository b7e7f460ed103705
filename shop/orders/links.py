"""Absolute links to a shopper's order page, for mails sent long after the request is gone.

The worker that writes the confirmation mail has no request to take a host from, so the
storefront's address comes from the settings (`PEAKSHOP_PUBLIC_URL`, else the bind address
`peakshop serve` listens on). The link carries the order's access token, so it opens the
order without an account, exactly like the page the checkout redirected to.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from shop.core.settings import Settings
from shop.orders.service import access_token

# The storefront's order page (shop.storefront.checkout_pages.show_order).
ORDER_PAGE_PATH = "/orders/{order_id}"


@dataclass(frozen=True)
class OrderLinks:
    base_url: str  # scheme and host, maybe a path prefix; no trailing slash
    secret_key: str

    @classmethod
    def from_settings(cls, settings: Settings) -> OrderLinks:
        return cls(settings.public_url or f"http://{settings.bind}", settings.secret_key)

    def order_page(self, order_id: str) -> str:
        """The order's page with its access token; no side effects."""
        # Order ids are hex, which quoting leaves as it is: a worker builds one link per
        # order it confirms. The token is hex too.
        plain = order_id.isascii() and order_id.isalnum()
        path = ORDER_PAGE_PATH.format(order_id=order_id if plain else quote(order_id, safe=""))
        return f"{self.base_url.rstrip('/')}{path}?token={access_token(self.secret_key, order_id)}"
