"""The back-office in HTML: sign in and out, the dashboard, and the sections' blueprints.

Server-rendered and usable without JavaScript. Forms are Flask-WTF forms (each carries its
CSRF token); the session cookie holds the API token the sign-in issued, so the pages go
through the same door (role matrix, expiry, revocation, quotas, audit) as the JSON API.
Every section (catalog, images, orders, team, tokens, plan, audit, events, carriers,
settings) is a blueprint nested in this one: they all get its guards (upload limits, URL and
form text), security headers, error pages and template helpers from here.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import redis
import sqlalchemy.exc
from flask import Blueprint, Response, g, make_response, redirect, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from shop.catalog.stock_alerts import LOW_STOCK_UNITS, low_stock
from shop.core import edge, resources
from shop.core.errors import RETRY_AFTER_S, Conflict, DependencyDown, Problem
from shop.core.timeutil import utcnow
from shop.events import service as events
from shop.events.api import capacity_settings
from shop.merchants import roles
from shop.merchants import service as merchants
from shop.merchants.access import acting, checked_sign_in
from shop.merchants.models import ApiToken
from shop.merchants.page_kit import (
    SESSION_TOKEN,
    ButtonForm,
    FormRefused,
    amount_text,
    apply_upload_limit,
    render_page,
    session_token,
)
from shop.orders.summary import sales_between
from shop.storefront.formatting import format_money

__all__ = ["SESSION_TOKEN", "blueprint", "page_for_problem", "session_token"]

log = logging.getLogger(__name__)
blueprint = Blueprint("merchant_pages", __name__, url_prefix="/merchant")

# Tab, line feed and carriage return are text; every other control character is not.
UNUSABLE_FORM_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class SignInForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    shop = StringField("Shop (only if you work for several)",
                       validators=[Optional(), Length(max=64)])


class SignOutForm(ButtonForm):
    """Signing out is a POST another site must not forge."""


@blueprint.after_request
def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool


# label, endpoint, the action the section reads (hidden from roles that may not).
SECTIONS = (
    ("Dashboard", "merchant_pages.dashboard", "events.read"),
    ("Products", "merchant_pages.catalog_pages.list_products", "catalog.read"),
    ("CSV import", "merchant_pages.catalog_pages.import_form", "catalog.read"),
    ("Orders", "merchant_pages.order_pages.list_orders", "orders.read"),
    ("Team", "merchant_pages.team.show_team", "team.read"),
    ("Tokens", "merchant_pages.account.show_tokens", "tokens.read"),
    ("Events", "merchant_pages.events.list_events", "events.read"),
    ("Carriers", "merchant_pages.carriers.list_carriers", "carriers.read"),
    ("Plan", "merchant_pages.account.show_plan", "plan.read"),
    ("Audit log", "merchant_pages.account.show_audit", "audit.read"),
    ("Settings", "merchant_pages.settings.edit_settings", "settings.read"),
)
# Pages that belong to a section without being its first page.
SECTION_OF = {"merchant_pages.events.announce": "merchant_pages.events.list_events",
              "merchant_pages.events.edit": "merchant_pages.events.list_events",
              "merchant_pages.carriers.edit": "merchant_pages.carriers.list_carriers",
              "merchant_pages.catalog_pages.create_product":
                  "merchant_pages.catalog_pages.list_products",
              "merchant_pages.catalog_pages.edit_product":
                  "merchant_pages.catalog_pages.list_products",
              "merchant_pages.catalog_pages.dry_run_import":
                  "merchant_pages.catalog_pages.import_form",
              "merchant_pages.catalog_pages.apply_import":
                  "merchant_pages.catalog_pages.import_form",
              "merchant_pages.order_pages.show_order": "merchant_pages.order_pages.list_orders"}


def back_office_nav() -> list[NavLink]:
    """The sections the signed-in role may read, the current one marked."""
    who = g.get("acting")
    if who is None:
        return []
    here = SECTION_OF.get(request.endpoint, request.endpoint)
    return [NavLink(label, url_for(endpoint, slug=who.slug), endpoint == here)
            for label, endpoint, action in SECTIONS if roles.may(who.role, action)]


def may(action: str) -> bool:
    """May the person signed in do `action`? (False on the door's own refusal pages.)"""
    who = g.get("acting")
    return who is not None and roles.may(who.role, action)


@blueprint.app_context_processor
def back_office_helpers() -> dict:
    # Functions, not values: building a form writes a CSRF token into the session, which
    # only a back-office page (with its nav) should do.
    # formdata=None: the sign-out button never reads the request's body (a refused upload's
    # page must not parse the body it refused).
    return {"sign_out_form": functools.partial(SignOutForm, formdata=None), "money": format_money,
            "amount_text": amount_text, "back_office_nav": back_office_nav, "may": may,
            "who": g.get("acting")}


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Sign in with e-mail and password; the same throttle as POST /api/v1/tokens."""
    form = SignInForm()
    error, status, retry_after = None, 200, None
    if form.validate_on_submit():
        try:
            issued = checked_sign_in(form.email.data.strip().lower(), form.password.data,
                                     (form.shop.data or "").strip() or None)
            session.clear()
            session[SESSION_TOKEN] = issued.token
            return redirect(url_for("merchant_pages.dashboard", slug=issued.merchant.slug),
                            303)
        except Problem as problem:
            error, status = problem.detail, problem.status
            retry_after = getattr(problem, "retry_after_s", None)
    elif request.method == "POST":
        error, status = "check the form: " + "; ".join(
            f"{name}: {', '.join(messages)}" for name, messages in form.errors.items()), 400
    response = render_page("merchant/sign_in.html", status, form=form, error=error)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@blueprint.post("/sign-out")
def sign_out():
    """Revoke the session's token and forget it."""
    form = SignOutForm()
    token = session_token()
    if form.validate_on_submit() and token:
        with resources.current().database.transaction() as db:
            row = db.scalar(select(ApiToken).where(
                ApiToken.token_hash == merchants.hash_token(token)))
            if row is not None and row.revoked_at is None:
                row.revoked_at = utcnow()
    session.clear()
    return redirect(url_for("merchant_pages.sign_in"), 303)


@blueprint.get("/shops/<slug>/")
def dashboard(slug: str):
    """The shop at a glance: today's sales, what runs low, the coming events and their
    planned capacity, and a way into every section."""
    who = acting()
    now = utcnow()
    midnight = datetime.combine(now.date(), time())
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        today = sales_between(db, who.merchant_id, midnight, midnight + timedelta(days=1))
        coming = [event for event in events.list_events(db, who.merchant_id)
                  if events.ends_at(event) > now]
        planned = events.with_capacity(db, coming, capacity_settings())
        running_low = low_stock(db, who.merchant_id)
        return render_page("merchant/dashboard.html", shop=shop, who=who, today=today,
                           planned=planned, ends_at=events.ends_at, running_low=running_low,
                           low_stock_units=LOW_STOCK_UNITS, day=now.date())


@blueprint.errorhandler(Problem)
def page_for_problem(problem: Problem) -> Response:
    """What a refusal looks like on a page: sign in again, or a short HTML error with the
    problem's status and detail."""
    if problem.status == 401:
        session.pop(SESSION_TOKEN, None)
        return redirect(url_for("merchant_pages.sign_in"), 303)
    response = make_response(render_page("merchant/error.html", problem.status,
                                         problem=problem))
    retry_after = getattr(problem, "retry_after_s", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


# Before anything reads the form: a section's upload limit applies when the body is parsed.
blueprint.before_request(apply_upload_limit)
# The JSON API's URL guard (overlong, control characters), answered here as a page.
blueprint.before_request(edge.guard_url)


@blueprint.before_request
def refuse_unusable_form_text() -> None:
    """A NUL, another control character or a lone surrogate in a form field can be neither
    stored (PostgreSQL refuses NUL) nor shown again: refuse the form before any service."""
    for name, value in request.form.items(multi=True):
        if UNUSABLE_FORM_TEXT.search(value):
            raise FormRefused(f"'{name[:40]}' holds a control character: remove it and send "
                              "the form again")


@blueprint.errorhandler(sqlalchemy.exc.IntegrityError)
def page_for_race(error: Exception) -> Response:
    log.info("integrity conflict on a back-office page: %s", error)
    return page_for_problem(Conflict("someone changed the same record at the same time: "
                                     "reload the page and try again"))


@blueprint.errorhandler(RequestEntityTooLarge)
def page_for_too_large(error: RequestEntityTooLarge) -> Response:
    return page_for_problem(Problem(
        "the file is larger than this shop accepts in one upload: split it into smaller "
        "files and import them one after the other", code="too_large", status=413))


@blueprint.errorhandler(sqlalchemy.exc.OperationalError)
@blueprint.errorhandler(sqlalchemy.exc.DisconnectionError)
@blueprint.errorhandler(redis.exceptions.ConnectionError)
@blueprint.errorhandler(redis.exceptions.TimeoutError)
def page_for_outage(error: Exception) -> Response:
    log.warning("back-office page without its database or Redis: %s", error)
    response = page_for_problem(DependencyDown(
        f"the shop's database or Redis is unreachable; nothing was changed: retry in "
        f"{RETRY_AFTER_S} seconds"))
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _register_sections() -> None:
    from shop.catalog.pages import blueprint as catalog_pages
    from shop.events.pages import blueprint as event_pages
    from shop.fulfilment.pages import blueprint as carrier_pages
    from shop.images.pages import blueprint as image_pages
    from shop.merchants.account_pages import blueprint as account_pages
    from shop.merchants.settings_pages import blueprint as settings_pages
    from shop.merchants.team_pages import blueprint as team_pages
    from shop.orders.merchant_pages import blueprint as order_pages

    for section in (team_pages, account_pages, event_pages, carrier_pages, settings_pages,
                    catalog_pages, image_pages, order_pages):
        blueprint.register_blueprint(section)


_register_sections()
