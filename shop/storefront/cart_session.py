"""Which cart belongs to this browser, per shop, kept in Flask's signed session cookie."""

from __future__ import annotations

import redis
from flask import current_app, request, session

from shop.cart import service as carts
from shop.core.errors import NotFound

CARTS_KEY = "carts"
LAST_SHOP_KEY = "shop"
# A cookie has room for a few dozen cart ids; nobody shops in more shops at once.
MAX_SHOPS = 20


def known_browser() -> bool:
    """Whether this browser sent a session cookie: its pages may show its own cart, messages
    and form token, so they are private. A first-time visitor's pages are the same for all."""
    return current_app.session_interface.get_cookie_name(current_app) in request.cookies


def cart_id(slug: str) -> str | None:
    """The id of this browser's cart in the shop, if it has one."""
    return session.get(CARTS_KEY, {}).get(slug)


def remember(slug: str, new_cart_id: str) -> None:
    """Keep the cart for the shop; the cookie outlives the browser window like the cart."""
    carts = {shop: cart for shop, cart in session.get(CARTS_KEY, {}).items() if shop != slug}
    while len(carts) >= MAX_SHOPS:
        carts.pop(next(iter(carts)))
    carts[slug] = new_cart_id
    session[CARTS_KEY] = carts
    session.permanent = True
    visit(slug)  # a first visit's pages record nothing: the cart is where it is noted


def forget(slug: str) -> None:
    """Drop the shop's cart (it was checked out or has expired)."""
    carts = session.get(CARTS_KEY, {})
    if slug in carts:
        session[CARTS_KEY] = {shop: cart for shop, cart in carts.items() if shop != slug}


def visit(slug: str) -> None:
    """Remember the shop last browsed, for the way back from an order page."""
    if session.get(LAST_SHOP_KEY) != slug:
        session[LAST_SHOP_KEY] = slug


def last_shop() -> str | None:
    """The shop this browser looked at last."""
    return session.get(LAST_SHOP_KEY)


def load(redis_client: redis.Redis, slug: str, merchant_id: int) -> carts.Cart | None:
    """This browser's cart in the shop, or None (never had one, or it expired)."""
    known = cart_id(slug)
    if known is None:
        return None
    try:
        cart = carts.load_cart(redis_client, known)
    except NotFound:
        forget(slug)
        return None
    if cart.merchant_id != merchant_id:
        forget(slug)
        return None
    return cart

