"""What every back-office page shares: rendering with a status, form refusals, the session.

Pages translate HTTP and nothing else: who acts comes from the door
(`shop.merchants.access.acting`), decisions from the domain services. A refused form is shown
again with its status (4xx), the problem beside it and what was typed still in it.
"""

from __future__ import annotations

from flask import Response, make_response, redirect, render_template, session, url_for
from flask_wtf import FlaskForm

from shop.core.errors import Problem

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


def render_page(template: str, status: int = 200, **context) -> Response:
    return make_response(render_template(template, **context), status)


def see_other(endpoint: str, **values) -> Response:
    """Post/redirect/get: after a change, the browser loads the page that shows it."""
    return redirect(url_for(endpoint, **values), 303)
