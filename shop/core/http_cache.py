"""HTTP caching: shopper-facing reads a shared cache may keep, everything else kept private.

- `public_read(find_freshness)` wraps a GET view whose answer is the same for every visitor.
  It asks `find_freshness` for the validators first (a cheap query), lets werkzeug's own
  `make_conditional` compare them with `If-None-Match` / `If-Modified-Since`, and answers 304
  without calling the view when they match. Otherwise the view renders and its answer gets
  `ETag`, `Last-Modified` and `Cache-Control: public, max-age, stale-while-revalidate`
  (PEAKSHOP_CATALOG_MAX_AGE_S, PEAKSHOP_CATALOG_STALE_S), so an Ingress or CDN cache absorbs
  a launch crowd.
- `personal=` names what makes a request one visitor's own (an HTML page's session cookie):
  such a request is rendered in full, `private, no-store`, and the public answer says
  `Vary: Cookie` so that a cache never hands one to the other.
- `PrivateWhenPersonal` (WSGI, outermost) has the last word on every response: one that sets
  a cookie or carries a visitor's pass is never public, whatever a view said, and one that
  said nothing about caching is `no-store` (carts, checkout, orders, merchants, operations).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from flask import Response, make_response, request
from werkzeug.datastructures import Headers, ResponseCacheControl
from werkzeug.http import parse_cache_control_header

from shop.core import resources


class Validators(Protocol):
    """What a conditional answer is judged by (the catalog's `Freshness` is one)."""

    etag: str
    last_modified: datetime | None


PRIVATE = "private, no-store"
DEFAULT = "no-store"


def public_read(find_freshness: Callable[..., Validators | None], *,
                personal: Callable[[], bool] | None = None) -> Callable:
    """Make a GET view cacheable by shared caches and answer revalidations with 304 before
    rendering. `find_freshness(**view_args)` returns the validators, or None when the view
    will refuse the request (unknown shop or product): the view then answers as usual."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def read(**view_args):
            if personal is not None and personal():
                response = make_response(view(**view_args))
                response.headers["Cache-Control"] = PRIVATE
                response.vary.add("Cookie")
                return response
            validators = find_freshness(**view_args)
            if validators is not None:
                answer = _validated(Response(), validators, vary_cookie=personal is not None)
                if answer.make_conditional(request).status_code == 304:
                    return answer
            response = make_response(view(**view_args))
            if validators is None or response.status_code != 200:
                return response
            return _validated(response, validators,
                              vary_cookie=personal is not None).make_conditional(request)

        return read

    return decorate


def _validated(response: Response, validators: Validators, *, vary_cookie: bool) -> Response:
    settings = resources.current().settings
    response.set_etag(validators.etag, weak=True)
    if validators.last_modified is not None:
        response.last_modified = validators.last_modified
    response.headers["Cache-Control"] = (
        f"public, max-age={settings.catalog_max_age_s}, "
        f"stale-while-revalidate={settings.catalog_stale_s}")
    if vary_cookie:
        response.vary.add("Cookie")
    return response


def keep_personal_private(headers: Headers, personal_headers: Iterable[str]) -> None:
    """The last word on caching, in place: personal answers are never public, and an answer
    that says nothing is not stored at all."""
    stated = headers.get("Cache-Control")
    if stated is None:
        headers["Cache-Control"] = DEFAULT
        return
    personal = "Set-Cookie" in headers or any(name in headers for name in personal_headers)
    if personal and parse_cache_control_header(stated, cls=ResponseCacheControl).public:
        headers["Cache-Control"] = PRIVATE


class PrivateWhenPersonal:
    """WSGI middleware around the whole app: it sees the final headers, after every hook
    and after Flask has written the session cookie."""

    def __init__(self, wsgi_app, personal_headers: Iterable[str] = ()) -> None:
        self.wsgi_app = wsgi_app
        self.personal_headers = tuple(personal_headers)

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            final = Headers(headers)
            keep_personal_private(final, self.personal_headers)
            return start_response(status, final.to_wsgi_list(), exc_info)

        return self.wsgi_app(environ, start)


def init_app(app, personal_headers: Iterable[str] = ()) -> None:
    """Wrap `app` last, so that no later middleware or hook can make a personal answer
    public. `personal_headers` name response headers that carry one visitor's own token."""
    app.wsgi_app = PrivateWhenPersonal(app.wsgi_app, personal_headers)
