"""Cross-site request forgery protection: a per-session token every POST form carries."""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

from shop.core.errors import Problem

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"


class CsrfRejected(Problem):
    status, code, title = 403, "csrf_rejected", "Form expired"


def token() -> str:
    """This session's token, made on first use; forms put it in a hidden field."""
    if SESSION_KEY not in session:
        session[SESSION_KEY] = secrets.token_urlsafe(32)
    return session[SESSION_KEY]


def check_post() -> None:
    """Refuse a POST whose form does not carry this session's token."""
    if request.method != "POST":
        return
    expected = session.get(SESSION_KEY)
    submitted = request.form.get(FORM_FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise CsrfRejected("this form has expired or was sent from another site: reload the "
                           "page and submit it again")
