"""What the back-office blueprints of other domains (catalog, orders) share with the pages of
`shop.merchants.pages` (whose own sections get it by nesting): the same headers, refusals
shown as HTML pages, and the helpers the templates call (money, "may this person do that",
the sign-out form).

The door (`shop.merchants.access`) has already signed the person in and checked their role
before any of these views runs; `acting()` says who they are.
"""

from __future__ import annotations

import logging
import re

import redis
import sqlalchemy.exc
from babel.numbers import get_currency_precision
from flask import Blueprint, Response, g, make_response, render_template, request
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge

from shop.core import edge, resources
from shop.core.errors import RETRY_AFTER_S, InvalidInput, Problem
from shop.merchants import pages, roles
from shop.storefront.blueprint import refuse_nul_characters
from shop.storefront.formatting import format_money

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
              redis.exceptions.BusyLoadingError)
DATABASE_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.DisconnectionError)
FORM_EXPIRED = ("this form has expired or was sent from another site: reload the page and "
                "send it again")


def install(blueprint: Blueprint, *, uploads: frozenset[str] = frozenset()) -> None:
    """Give a back-office blueprint the shared guards, headers, error pages and helpers;
    the views named in `uploads` take files up to the import limit."""

    @blueprint.before_request
    def allow_uploads() -> None:
        # Before anything reads the form: the body limit applies when it is parsed.
        if request.endpoint in uploads:
            request.max_content_length = resources.current().settings.max_import_bytes

    # The JSON API's URL guard (overlong, control characters), answered here as a page.
    blueprint.before_request(edge.guard_url)
    blueprint.before_request(refuse_nul_characters)
    blueprint.after_request(pages.add_security_headers)
    blueprint.register_error_handler(Problem, pages.page_for_problem)
    blueprint.register_error_handler(RequestEntityTooLarge, _too_large)
    for error in REDIS_DOWN + DATABASE_DOWN:
        blueprint.register_error_handler(error, _unavailable)
    blueprint.context_processor(_helpers)


def _helpers() -> dict:
    who = g.get("acting")  # absent on the door's own refusal pages
    return {"money": format_money, "amount_text": amount_text, "who": who,
            "may": lambda action: who is not None and roles.may(who.role, action),
            "sign_out": pages.SignOutForm(formdata=None)}


def _too_large(error: RequestEntityTooLarge) -> Response:
    return pages.page_for_problem(Problem(
        "the file is larger than this shop accepts in one upload: split it into smaller "
        "files and import them one after the other", code="too_large", status=413))


def _unavailable(error: Exception) -> Response:
    log.warning("back-office page: a dependency is unavailable: %s", error)
    response = pages.page_for_problem(Problem(
        f"the database or Redis cannot be reached just now; nothing was changed: try again "
        f"in {RETRY_AFTER_S} seconds", code="dependency_unavailable", status=503))
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def form_refusal(form: FlaskForm) -> tuple[str, int]:
    """Why a submitted form was refused, and its status: 400 for a missing or stale CSRF
    token (nothing the person typed is wrong), else 422 naming each field."""
    if "csrf_token" in form.errors:
        return FORM_EXPIRED, 400
    return "check the highlighted fields: " + "; ".join(
        f"{getattr(form, name).label.text}: {' '.join(messages)}"
        for name, messages in form.errors.items()), 422


_NAMED_FIELD = re.compile(r"^'([a-z_]+)['.\[]")


def attach_problem(form: FlaskForm, problem: Problem) -> str:
    """A service's refusal shown on the field it names ("'price' must be ..."), as well as
    above the form; returns the message for the latter."""
    named = _NAMED_FIELD.match(problem.detail)
    field = getattr(form, named.group(1), None) if named else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, problem.detail]
    return problem.detail


def render(template: str, http_status: int = 200, /, **context) -> Response:
    """A back-office template as a response with its HTTP status."""
    return make_response(render_template(template, **context), http_status)


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
