"""The waiting page without Flask, for the edge gate in front of gunicorn.

During a surge most browsers are told to wait, and every refresh of their page is a request:
rendered by the app, the crowd of browsers would still cost gunicorn. The gate renders the
same template (`storefront/waiting_room.html` and its `base.html`) with Jinja alone; the only
Flask parts those templates use are `url_for` for a handful of storefront links and the
flashed messages (none for a visitor in line), given here as plain functions. A test renders
the page both ways and compares them, so a change to the template that needs more of Flask
fails there, not in front of shoppers.

A browser with a cart never waits: whether its Flask session cookie holds a cart for the
shop is read here too (`session_has_cart`), with the same key, salt and signature as Flask.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

import jinja2
from itsdangerous import BadData, URLSafeTimedSerializer

from shop.waiting_room.answers import (
    ROOM_COOKIE,
    ROOM_HEADER,
    eta_words,
    waiting_headers,
)
from shop.waiting_room.decision import retry_after_s
from shop.waiting_room.service import Admission
from shop.waiting_room.tickets import PLACE_MAX_AGE_S

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE = "storefront/waiting_room.html"
# The storefront's policy (shop/storefront/blueprint.py; a test keeps the two equal): the
# waiting page shows no product images, so no media origin is added.
PAGE_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# Flask's session cookie, as the app configures it (its defaults: shop/app.py sets none).
SESSION_COOKIE = "session"
SESSION_SALT = "cookie-session"
SESSION_MAX_AGE_S = 31 * 24 * 3600   # Flask's PERMANENT_SESSION_LIFETIME
CARTS_KEY = "carts"                  # shop/storefront/cart_session.py

# The storefront's URL rules the two templates link to (endpoint -> rule with {slug}).
LINKS = {"storefront.show_catalog": "/shops/{slug}/",
         "storefront.show_cart": "/shops/{slug}/cart",
         "status.show_shop_status": "/shops/{slug}/status",
         "status.show_status": "/status"}


@dataclass(frozen=True)
class ShopLink:
    slug: str
    name: str


def url_for(endpoint: str, **values: str) -> str:
    """Flask's `url_for` for the links of the waiting page, nothing more."""
    if endpoint == "static":
        return "/static/" + quote(values["filename"])
    rule = LINKS[endpoint]   # an unknown endpoint is a template change: fail loudly
    return rule.format(slug=quote(values.get("slug", ""), safe=""))


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html", "htm", "xml", "xhtml", "svg"]),
    auto_reload=False)
_environment.globals.update(url_for=url_for, get_flashed_messages=lambda: [])


def render(slug: str, shop_name: str, position: int, eta_s: float) -> str:
    """The waiting page's HTML, as `shop.waiting_room.views.waiting` renders it."""
    return _environment.get_template(TEMPLATE).render(
        shop=ShopLink(slug, shop_name or slug), position=position, eta=eta_words(eta_s),
        refresh_s=retry_after_s(eta_s))


def room_cookie(token: str, slug: str, max_age_s: int, secure: bool) -> str:
    """The Set-Cookie value of the room's ticket, with the attributes the app gives it."""
    expires = formatdate(time.time() + max_age_s, usegmt=True)
    parts = [f"{ROOM_COOKIE}={token}", f"Expires={expires}", f"Max-Age={max_age_s}"]
    if secure:
        parts.append("Secure")
    parts += ["HttpOnly", f"Path=/shops/{quote(slug, safe='')}/", "SameSite=Lax"]
    return "; ".join(parts)


def waiting_page(slug: str, admission: Admission, place_token: str,
                 secure: bool) -> tuple[int, dict[str, str], bytes]:
    """The 503 a browser in line gets: the page, its place in the cookie, Retry-After."""
    body = render(slug, admission.shop_name, admission.position, admission.eta_s).encode()
    headers = dict([("Content-Type", "text/html; charset=utf-8"),
               *[(name, value) for name, value in waiting_headers(admission, place_token)
                 if name != ROOM_HEADER],
               ("Set-Cookie", room_cookie(place_token, slug, PLACE_MAX_AGE_S, secure)),
               ("Vary", "Cookie"),
               ("Content-Security-Policy", PAGE_SECURITY_POLICY),
               ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")])
    return 503, headers, body


class SessionCarts:
    """Reads Flask's signed session cookie (HMAC-SHA1, itsdangerous, as Flask signs it) to
    tell whether a browser holds a cart in a shop. A cookie that fails the signature holds
    nothing, as in Flask. The payload is Flask's tagged JSON, which is plain JSON: the carts
    are a plain object of slug -> cart id."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret_key, salt=SESSION_SALT, serializer=json,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1})

    def has_cart(self, cookie: str | None, slug: str) -> bool:
        if not cookie:
            return False
        try:
            session = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except (BadData, ValueError):
            return False
        carts = session.get(CARTS_KEY) if isinstance(session, dict) else None
        return isinstance(carts, dict) and bool(carts.get(slug))


def cookie_values(header: str | None) -> dict[str, str]:
    """The cookies of a Cookie header, the first of each name (as Flask reads them); a part
    that is not `name=value` is skipped, never an error."""
    found: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, equals, value = part.strip().partition("=")
        name, value = name.strip(), value.strip()
        if equals and name and name not in found:
            found[name] = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' \
                else value
    return found


def with_room_cookie(header: str | None, token: str) -> str:
    """The Cookie header with the room's ticket replaced by `token` (a pass handed over at
    the gate, so that the app behind it sees the visitor as let in)."""
    kept = [part.strip() for part in (header or "").split(";")
            if part.strip() and part.strip().partition("=")[0].strip() != ROOM_COOKIE]
    return "; ".join([*kept, f"{ROOM_COOKIE}={token}"])
