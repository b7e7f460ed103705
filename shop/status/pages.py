"""The status pages: server-rendered HTML that works without JavaScript, for customers."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, make_response, render_template

from shop.core.errors import RETRY_AFTER_S, NotFound
from shop.status.api import platform_status, shop_status
from shop.status.components import COMPONENT_LABELS, Component
from shop.status.snapshot import DATABASE_DOWN

blueprint = Blueprint("status", __name__)

CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SUMMARIES = {
    "operational": "Everything is working normally.",
    "degraded": "Some things are not working as well as they should.",
    "outage": "Something is not working at the moment.",
}
COMPONENT_STATUS_WORDS = {"operational": "Working normally", "degraded": "Having problems",
                          "outage": "Not working"}
INCIDENT_STATUS_WORDS = {"investigating": "Investigating", "identified": "Cause found",
                         "monitoring": "Fix in place, watching", "resolved": "Resolved"}


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.removesuffix("Z")) if value else None


def _when(value: str | None) -> str:
    moment = _moment(value)
    return moment.strftime("%d %b %Y, %H:%M UTC").lstrip("0") if moment else ""


@blueprint.app_template_filter("status_time")
def status_time(value: str | None) -> str:
    return _when(value)


def _page(document: dict, *, shop=None, status: int = 200) -> Response:
    response = make_response(render_template(
        "status/page.html", document=document, shop=shop, summaries=SUMMARIES,
        component_words=COMPONENT_STATUS_WORDS, incident_words=INCIDENT_STATUS_WORDS,
        labels={c.value: label for c, label in COMPONENT_LABELS.items()},
        Component=Component), status)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Shared caches may keep it as briefly as we do; browsers always ask again.
    response.headers["Cache-Control"] = "public, max-age=5"
    return response


def _unknown_page() -> Response:
    """The page when even the status cannot be read: say so plainly, never a bare error."""
    response = make_response(render_template("status/unavailable.html", shop=None), 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@blueprint.get("/status")
def show_status():
    """The platform's status page."""
    try:
        return _page(platform_status())
    except DATABASE_DOWN:
        return _unknown_page()


@blueprint.get("/shops/<slug>/status")
def show_shop_status(slug: str):
    """One shop's status page."""
    try:
        document = shop_status(slug)
    except NotFound:
        response = make_response(render_template(
            "storefront/error.html", status=404, title="No such shop",
            message=f"There is no shop called '{slug}'. The platform's status is at /status.",
            shop=None, shop_slug=None), 404)
        return response
    except DATABASE_DOWN:
        return _unknown_page()
    return _page(document, shop=document["shop"])
