"""The back-office in HTML: sign in, and a dashboard of upcoming events with their capacity.

Server-rendered and usable without JavaScript. Forms are Flask-WTF forms (each carries its
CSRF token); the session cookie holds the API token the sign-in issued, so the pages go
through the same door (role matrix, expiry, revocation) as the JSON API.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from shop.core import resources
from shop.core.errors import Problem
from shop.core.timeutil import utcnow
from shop.events import service as events
from shop.events.api import capacity_settings
from shop.merchants import service as merchants
from shop.merchants.access import acting, checked_sign_in
from shop.merchants.models import ApiToken

blueprint = Blueprint("merchant_pages", __name__, url_prefix="/merchant")

SESSION_TOKEN = "merchant_token"
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

class SignInForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    shop = StringField("Shop (only if you work for several)",
                       validators=[Optional(), Length(max=64)])

class SignOutForm(FlaskForm):
    """Nothing but the CSRF token: signing out is a POST another site must not forge."""

@blueprint.after_request
def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response

def session_token() -> str | None:
    return session.get(SESSION_TOKEN)

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
    response = make_response(render_template("merchant/sign_in.html", form=form, error=error),
                             status)
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
    """The shop at a glance: who you are there, and the coming events with their capacity."""
    who = acting()
    now = utcnow()
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        coming = [event for event in events.list_events(db, who.merchant_id)
                  if events.ends_at(event) > now]
        planned = events.with_capacity(db, coming, capacity_settings())
        return render_template("merchant/dashboard.html", shop=shop, who=who,
                               planned=planned, ends_at=events.ends_at,
                               sign_out=SignOutForm())

def page_for_problem(problem: Problem) -> Response:
    """What the door's refusal looks like on a page: sign in again, or a short HTML error."""
    if problem.status == 401:
        session.pop(SESSION_TOKEN, None)
        return redirect(url_for("merchant_pages.sign_in"), 303)
    body = render_template("merchant/error.html", problem=problem)
    return Response(body, status=problem.status, mimetype="text/html")
