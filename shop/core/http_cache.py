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
- `FastRevalidation` (WSGI) answers those revalidations before Flask even routes them: a
  cache's `If-None-Match` costs the freshness query and a few headers, not the app's hooks
  (request id, metrics, SLO counting in Redis, security headers, session). What the hooks
  would add to a 304 is either on the cached 200 already or means nothing for a 304; the
  request is still counted in the request metrics.
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
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import Flask, Response, current_app, make_response, request
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.exceptions import HTTPException
from werkzeug.http import (
    http_date,
    is_resource_modified,
    parse_cache_control_header,
    parse_cookie,
    quote_etag,
)
from werkzeug.routing import RequestRedirect

from shop.core import resources
from shop.core.metrics import KNOWN_METHODS, http_metrics


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


@dataclass(frozen=True)
class SharedRead:
    """A route whose revalidations FastRevalidation answers: the `public_read` view's own
    freshness function, and whether a session cookie makes a request personal (pages)."""

    find_freshness: Callable[..., Validators | None]
    personal_with_session: bool = False


class FastRevalidation:
    """WSGI: answer a conditional GET or HEAD of a shared read with 304 before Flask.

    Routing is Flask's own URL map (so a path means here what it means to Flask), the
    comparison werkzeug's `is_resource_modified` (what `make_conditional` uses). Anything
    else, and every revalidation that finds the page changed, goes on to Flask with the
    validators already read. `may_answer(environ, view_args)` lets another concern (the
    waiting room) keep a request for itself.
    """

    def __init__(self, app: Flask, wsgi_app, reads: Mapping[str, SharedRead],
                 may_answer: Callable[[dict, dict], bool] = lambda environ, args: True,
                 memo: FreshnessMemo | None = None) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.reads = dict(reads)
        self.may_answer = may_answer
        self.memo = memo or FreshnessMemo(0)
        self.cache_control = cache_control(app.extensions["peakshop"].settings)
        # The static start of each read's URL rule: other paths are not looked up at all.
        self.prefixes = tuple({rule.rule.split("<", 1)[0] for rule in app.url_map.iter_rules()
                               if rule.endpoint in self.reads})
        self.session_cookie = app.session_interface.get_cookie_name(app)

    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
                or not (environ.get("HTTP_IF_NONE_MATCH")
                        or environ.get("HTTP_IF_MODIFIED_SINCE"))
                # If-Match and ranges are rare on these reads: Flask answers them in full.
                or "HTTP_IF_MATCH" in environ or "HTTP_RANGE" in environ
                or not environ.get("PATH_INFO", "").startswith(self.prefixes)):
            return self.wsgi_app(environ, start_response)
        headers = self._not_modified(environ)
        if headers is None:
            return self.wsgi_app(environ, start_response)
        start_response("304 NOT MODIFIED", headers)
        return []

    def _not_modified(self, environ: dict) -> list[tuple[str, str]] | None:
        """The 304's headers, or None when Flask must answer."""
        started = time.perf_counter()
        try:
            rule, view_args = self.app.url_map.bind_to_environ(environ).match(
                return_rule=True)
        except (HTTPException, RequestRedirect):
            return None
        read = self.reads.get(rule.endpoint)
        if read is None or (read.personal_with_session and self._has_session(environ)):
            return None
        key = memo_key(rule.endpoint, view_args)
        validators = self.memo.get(key)
        if validators is None:
            with self.app.app_context():
                validators = read.find_freshness(**view_args)
            if validators is None:
                return None
            self.memo.put(key, validators)
            environ[FRESHNESS_KEY] = (rule.endpoint, validators)  # the view needs no query
        etag = quote_etag(validators.etag, weak=True)
        if is_resource_modified(environ, etag, last_modified=validators.last_modified):
            return None
        if not self.may_answer(environ, view_args):
            return None
        environ.pop(FRESHNESS_KEY, None)
        headers = [("ETag", etag), ("Cache-Control", self.cache_control)]
        if validators.last_modified is not None:
            headers.append(("Last-Modified", http_date(validators.last_modified)))
        if read.personal_with_session:
            headers.append(("Vary", "Cookie"))
        self._count(environ["REQUEST_METHOD"], rule.rule, time.perf_counter() - started)
        return headers

    def _has_session(self, environ: dict) -> bool:
        return self.session_cookie in parse_cookie(environ.get("HTTP_COOKIE", ""))

    @staticmethod
    def _count(method: str, route: str, seconds: float) -> None:
        metrics = http_metrics()
        method = method if method in KNOWN_METHODS else "other"
        metrics.latency.labels(method, route).observe(seconds)
        metrics.requests.labels(method, route, "304").inc()


def answer_revalidations_early(app: Flask, reads: Mapping[str, SharedRead],
                               may_answer: Callable[[dict, dict], bool] | None = None) -> None:
    """Put FastRevalidation in front of `app`'s Flask handling for `reads` (by endpoint)."""
    memo_s = app.extensions["peakshop"].settings.catalog_revalidation_memo_ms / 1000
    memo = app.extensions[MEMO_EXTENSION] = FreshnessMemo(memo_s)
    app.wsgi_app = FastRevalidation(app, app.wsgi_app, reads,
                                    may_answer or (lambda environ, args: True), memo)


def keep_personal_private(headers: list[tuple[str, str]],
                          personal_headers: Iterable[str]) -> list[tuple[str, str]]:
    """The last word on caching: personal answers are never public, and an answer that says
    nothing is not stored at all. Returns the headers to send."""
    personal_names = {"set-cookie", *(name.lower() for name in personal_headers)}
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

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, keep_personal_private(headers,
                                                                self.personal_headers),
                                  exc_info)

        return self.wsgi_app(environ, start)


def init_app(app, personal_headers: Iterable[str] = ()) -> None:
    """Wrap `app` last, so that no later middleware or hook can make a personal answer
    public. `personal_headers` name response headers that carry one visitor's own token."""
    app.wsgi_app = PrivateWhenPersonal(app.wsgi_app, personal_headers)
