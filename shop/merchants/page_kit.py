"""What every back-office page shares: rendering with a status, form refusals, the session.

Pages translate HTTP and nothing else: who acts comes from the door
(`shop.merchants.access.acting`), decisions from the domain services. A refused form is shown
again with its status (4xx), the problem beside it and what was typed still in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from babel.numbers import get_currency_precision
from flask import (
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm

from shop.core.errors import InvalidInput, Problem

SESSION_TOKEN = "merchant_token"
FORM_EXPIRED = ("this form has expired or was sent from another site: reload the page and "
                "submit it again")


class ButtonForm(FlaskForm):
    """Nothing but the CSRF token: a button that changes something (sign out, revoke,
    remove) is a POST another site must not forge."""


class FormRefused(Problem):
    """A form that did not parse: a field missing, a number that is not one, no CSRF token."""

    status, code, title = 400, "invalid_form", "Check the form"


def session_token() -> str | None:
    return session.get(SESSION_TOKEN)


def form_problem(form: FlaskForm) -> FormRefused:
    """Why `form` was refused, naming each field by its label; a missing or stale CSRF token
    is a 400 of its own so that nothing is changed by a forged post."""
    if "csrf_token" in form.errors:
        return FormRefused(FORM_EXPIRED, code="csrf_rejected")
    parts = []
    for name, messages in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None else name
        parts.append(f"{label}: {' '.join(messages)}")
    return FormRefused("check the form: " + "; ".join(parts), status=422)


def submitted(form: FlaskForm) -> bool:
    """True when `form` was posted and is valid; raise its problem when posted and invalid."""
    if not form.is_submitted():
        return False
    if not form.validate():
        raise form_problem(form)
    return True


def form_refusal(form: FlaskForm) -> tuple[str, int]:
    """`form_problem` as the message and status a page shows above the form it re-renders."""
    problem = form_problem(form)
    return problem.detail, problem.status


_NAMED_FIELD = re.compile(r"^'([a-z_]+)['.\[]")


def attach_problem(form: FlaskForm, problem: Problem) -> str:
    """A service's refusal shown on the field it names ("'price' must be ..."), as well as
    above the form; returns the message for the latter."""
    named = _NAMED_FIELD.match(problem.detail)
    field = getattr(form, named.group(1), None) if named else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, problem.detail]
    return problem.detail


def render_page(template: str, status: int = 200, /, **context) -> Response:
    """A back-office template as a response with its HTTP status (positional, so that a
    template may have a `status` of its own, such as an orders filter)."""
    return make_response(render_template(template, **context), status)


def takes_uploads(limit_bytes: Callable[[], int]):
    """Mark a view whose form carries a file up to `limit_bytes()`; other forms keep the
    default body limit. Read by `apply_upload_limit`, the back-office's first hook."""
    def mark(view):
        view.upload_limit_bytes = limit_bytes
        return view
    return mark


def apply_upload_limit() -> None:
    # First of the back-office's hooks: the limit applies when the body is first parsed.
    view = current_app.view_functions.get(request.endpoint or "")
    limit_bytes = getattr(view, "upload_limit_bytes", None)
    if limit_bytes is not None:
        request.max_content_length = limit_bytes()


def amount_text(amount: int, currency: str) -> str:
    """Minor units as a merchant types them in a form: 1250 EUR -> '12.50', 500 JPY -> '500'."""
    digits = get_currency_precision(currency)
    if not digits:
        return str(amount)
    major, minor = divmod(amount, 10**digits)
    return f"{major}.{minor:0{digits}d}"


def minor_units(typed: str, currency: str, field: str = "price") -> int:
    """An amount typed in a form ('12.50' or '12,50') in minor units of `currency`."""
    text = typed.strip()
    digits = get_currency_precision(currency)
    major, separator, fraction = text.replace(",", ".").partition(".")
    if (not major.isascii() or not major.isdigit() or len(major) > 13
            or (separator and not (fraction.isascii() and fraction.isdigit()))
            or len(fraction) > digits):
        example = "12.50" if digits else "1250"
        decimals = (f"at most {digits} decimals" if digits
                    else f"no decimals in {currency}")
        raise InvalidInput(f"'{field}' must be an amount like {example} ({decimals}): "
                           f"got {text[:40]!r}")
    return int(major) * 10**digits + int(fraction.ljust(digits, "0") or 0)


def see_other(endpoint: str, **values) -> Response:
    """Post/redirect/get: after a change, the browser loads the page that shows it."""
    return redirect(url_for(endpoint, **values), 303)
