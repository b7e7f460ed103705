"""Cross-site request forgery protection: a per-session token every POST form carries.

One exception: the product page a shared cache keeps for every first-time visitor cannot
hold anyone's token, so its add-to-cart form comes without one. Such a token-less POST is
let through only when the browser itself says it comes from this site (Fetch Metadata's
`Sec-Fetch-Site: same-origin`, or else an `Origin` naming this host): a cross-site form
cannot forge either (OWASP's CSRF cheat sheet). A browser that sends neither is refused and
given a session, so that its next product page is its own, with a token.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import request, session

from shop.core.errors import Problem

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
# Forms of publicly cached pages (no token inside): the product page's add-to-cart.
TOKENLESS_FORMS = frozenset({"storefront.add_to_cart"})


class CsrfRejected(Problem):
    status, code, title = 403, "csrf_rejected", "Form expired"


def token() -> str:
    """This session's token, made on first use; forms put it in a hidden field."""
    if SESSION_KEY not in session:
        session[SESSION_KEY] = secrets.token_urlsafe(32)
    return session[SESSION_KEY]


def page_token(public: bool) -> str:
    """The token a page's forms carry: none on a page every visitor shares."""
    return "" if public else token()


def sent_by_this_site() -> bool:
    """The browser's own word that this request comes from a page of this site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc == request.host


def check_post() -> None:
    """Refuse a POST whose form does not carry this session's token (or, for the form of a
    shared page, whose browser does not vouch for its origin)."""
    if request.method != "POST":
        return
    expected = session.get(SESSION_KEY)
    submitted = request.form.get(FORM_FIELD, "")
    if not submitted and request.endpoint in TOKENLESS_FORMS and sent_by_this_site():
        return
    if not expected or not hmac.compare_digest(expected.encode(), submitted.encode()):
        if not expected and request.endpoint in TOKENLESS_FORMS:
            token()  # the page reloaded with this session is private and has a token
        raise CsrfRejected("this form has expired or was sent from another site: reload the "
                           "page and submit it again")
