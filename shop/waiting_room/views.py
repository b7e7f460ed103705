"""The answers of the gate in HTTP: a waiting page or a 503 problem, and the pass handed over.

Pages get HTML that refreshes itself (no JavaScript) and keep the visitor's place in a
cookie scoped to the shop; the JSON API gets `application/problem+json` and the place in the
`Peakshop-Waiting-Room` header and the body's `ticket`, to be sent back as that header (or
the `waiting_room` query parameter).
"""

from __future__ import annotations

import json

from flask import Response, make_response, render_template, request

from shop.core.errors import PROBLEM_JSON, problem_response
from shop.storefront.blueprint import ShopLink
from shop.waiting_room.answers import (  # noqa: F401 (the names the app's hooks use)
    POSITION_HEADER,
    ROOM_COOKIE,
    ROOM_HEADER,
    ROOM_PARAM,
    eta_words,
    waiting_body,
    waiting_headers,
    waiting_problem,
)
from shop.waiting_room.decision import LoadLevel, RequestClass, retry_after_s
from shop.waiting_room.service import Admission
from shop.waiting_room.tickets import PLACE_MAX_AGE_S

SHED_RETRY_AFTER_S = 10


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _cookie_path(slug: str) -> str:
    return f"/shops/{slug}/"


def waiting(slug: str, admission: Admission, place_token: str) -> Response:
    """503 for a visitor still in line: their place, the ETA and when to ask again."""
    retry_s = retry_after_s(admission.eta_s)
    if _is_api():
        response = Response(json.dumps(waiting_body(admission, place_token)), status=503,
                            mimetype=PROBLEM_JSON)
    else:
        shop = ShopLink(slug, admission.shop_name or slug)
        body = render_template("storefront/waiting_room.html", shop=shop,
                               position=admission.position, eta=eta_words(admission.eta_s),
                               refresh_s=retry_s)
        response = make_response(body, 503)
        response.set_cookie(ROOM_COOKIE, place_token, max_age=PLACE_MAX_AGE_S,
                            path=_cookie_path(slug), httponly=True, samesite="Lax",
                            secure=request.is_secure)
    for name, value in waiting_headers(admission, place_token):
        if name != ROOM_HEADER or _is_api():
            response.headers[name] = value
    return response


def shed(request_class: RequestClass, level: LoadLevel) -> Response:
    """503 for a request the server cannot take now without hurting more valuable ones."""
    detail = ("the shop is overloaded and is serving carts and checkouts first; "
              f"retry in {SHED_RETRY_AFTER_S} seconds")
    if _is_api():
        response = problem_response(503, "overloaded", "Service temporarily overloaded", detail,
                                    extra={"request_class": request_class.name.lower(),
                                           "load_level": level.name.lower()})
    else:
        slug = (request.view_args or {}).get("slug")
        shop = ShopLink(slug, slug) if isinstance(slug, str) else None
        response = make_response(render_template(
            "storefront/overloaded.html", shop=shop, refresh_s=SHED_RETRY_AFTER_S), 503)
    response.headers["Retry-After"] = str(SHED_RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


def hand_pass(response: Response, slug: str, pass_token: str, max_age_s: int) -> None:
    """Give an admitted visitor their pass: a cookie on pages, a header on the API."""
    if _is_api():
        response.headers[ROOM_HEADER] = pass_token
    else:
        response.set_cookie(ROOM_COOKIE, pass_token, max_age=max_age_s, path=_cookie_path(slug),
                            httponly=True, samesite="Lax", secure=request.is_secure)
