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
- `shop.core.early_revalidation.FastRevalidation` (WSGI) answers those revalidations
  before Flask even routes them, for the price of the freshness facts and a few headers.
- Each process remembers the validators it read for PEAKSHOP_CATALOG_REVALIDATION_MEMO_MS
  (1 s), for revalidations and full renders alike, so that a crowd on one page costs one
  freshness query a second: a change may then be answered 304, or a new page carry the
  previous tag, for up to that long (weak tags: equivalent, not byte-identical, content).
- `PrivateWhenPersonal` (WSGI, outermost) has the last word on every response: one that sets
  a cookie or carries a visitor's pass is never public, whatever a view said, and one that
  said nothing about caching is `no-store` (carts, checkout, orders, merchants, operations).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Protocol

from flask import Response, current_app, make_response, request
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import is_resource_modified, parse_cache_control_header, quote_etag

from shop.core import resources


class Validators(Protocol):
    """What a conditional answer is judged by (the catalog's `Freshness` is one)."""

    etag: str
    last_modified: datetime | None


PRIVATE = "private, no-store"
DEFAULT = "no-store"
# Where FastRevalidation leaves the validators it read for the view, which then needs no
# second query: (endpoint, validators).
FRESHNESS_KEY = "peakshop.http_cache.freshness"
MEMO_EXTENSION = "peakshop_freshness_memo"


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
            validators = _stashed(view_args) or _remembered(view_args)
            if validators is None:
                validators = find_freshness(**view_args)
                if validators is not None:
                    _remember(view_args, validators)
            if validators is not None and not is_resource_modified(
                    request.environ, quote_etag(validators.etag, weak=True),
                    last_modified=validators.last_modified):
                # What make_conditional would answer, without building a response to ask it.
                return _validated(Response(), validators,
                                  vary_cookie=personal is not None).make_conditional(request)
            response = make_response(view(**view_args))
            if validators is None or response.status_code != 200:
                return response
            return _validated(response, validators,
                              vary_cookie=personal is not None).make_conditional(request)

        return read

    return decorate


def memo_key(endpoint: str, view_args: Mapping) -> tuple:
    return (endpoint, *sorted(view_args.items()))


def _memo() -> FreshnessMemo | None:
    return current_app.extensions.get(MEMO_EXTENSION)


def _remembered(view_args: dict) -> Validators | None:
    memo = _memo()
    return None if memo is None else memo.get(memo_key(request.endpoint, view_args))


def _remember(view_args: dict, validators: Validators) -> None:
    memo = _memo()
    if memo is not None:
        memo.put(memo_key(request.endpoint, view_args), validators)


def _stashed(view_args: dict) -> Validators | None:
    stash = request.environ.pop(FRESHNESS_KEY, None)
    if stash is not None and stash[0] == request.endpoint:
        return stash[1]
    return None


def cache_control(settings) -> str:
    """What a shared read says to caches: how long to serve it unasked, then stale."""
    return (f"public, max-age={settings.catalog_max_age_s}, "
            f"stale-while-revalidate={settings.catalog_stale_s}")


def _validated(response: Response, validators: Validators, *, vary_cookie: bool) -> Response:
    response.set_etag(validators.etag, weak=True)
    if validators.last_modified is not None:
        response.last_modified = validators.last_modified
    response.headers["Cache-Control"] = cache_control(resources.current().settings)
    if vary_cookie:
        response.vary.add("Cookie")
    return response


class FreshnessMemo:
    """Validators read in the last `ttl_s` seconds, by route and arguments, in this process.

    Bounded: past `max_entries` it starts afresh (a platform's hot pages refill it in a
    second)."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[tuple, tuple[float, Validators]] = {}

    def get(self, key: tuple) -> Validators | None:
        found = self._entries.get(key)
        if found is None or found[0] <= self.clock():
            return None
        return found[1]

    def put(self, key: tuple, validators: Validators) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (self.clock() + self.ttl_s, validators)


def keep_personal_private(headers: list[tuple[str, str]],
                          personal_headers: Iterable[str]) -> list[tuple[str, str]]:
    """The last word on caching: personal answers are never public, and an answer that says
    nothing is not stored at all. Returns the headers to send."""
    return _kept_private(headers, _personal_names(personal_headers))


def _personal_names(personal_headers: Iterable[str]) -> frozenset[str]:
    return frozenset({"set-cookie", *(name.lower() for name in personal_headers)})


def _kept_private(headers: list[tuple[str, str]],
                  personal_names: frozenset[str]) -> list[tuple[str, str]]:
    stated = None
    personal = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "cache-control":
            stated = value
        elif lowered in personal_names:
            personal = True
    if stated is None:
        return [*headers, ("Cache-Control", DEFAULT)]
    if personal and parse_cache_control_header(stated, cls=ResponseCacheControl).public:
        return [(name, PRIVATE if name.lower() == "cache-control" else value)
                for name, value in headers]
    return headers


class PrivateWhenPersonal:
    """WSGI middleware around the whole app: it sees the final headers, after every hook
    and after Flask has written the session cookie."""

    def __init__(self, wsgi_app, personal_headers: Iterable[str] = ()) -> None:
        self.wsgi_app = wsgi_app
        self.personal_headers = tuple(personal_headers)
        self.personal_names = _personal_names(self.personal_headers)

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, _kept_private(headers, self.personal_names),
                                  exc_info)

        return self.wsgi_app(environ, start)


def init_app(app, personal_headers: Iterable[str] = ()) -> None:
    """Wrap `app` last, so that no later middleware or hook can make a personal answer
    public. `personal_headers` name response headers that carry one visitor's own token."""
    app.wsgi_app = PrivateWhenPersonal(app.wsgi_app, personal_headers)
