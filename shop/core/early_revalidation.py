"""Shared reads answered before Flask: revalidations with 304, repeats from a short memo.

A cache's `If-None-Match` then costs Flask's URL map, the freshness facts (remembered for a
second per process) and a few headers: not the app's hooks (request id, metrics hooks, SLO
counting in Redis, security headers, session). What those hooks would add to a 304 is on the
cached 200 already or means nothing for a 304; the request is still counted in the request
metrics.

A plain GET of a page this process rendered before under the same entity tag is answered
from `RenderedMemo` the same way: the facts, always read afresh for a full answer (never the
memo's), decide the tag, the tag decides whether the kept answer is still the page (it is
what a 304 would vouch for), and the answer is sent with its current validators and a
request id of its own. A full answer is thus as live as a rendering: a change made through
any process is seen by the next read of every other. It is counted in the request metrics
and, through `count_answer`, in the SLO's good events. An answer is kept only when it is a
200 that any cache may share: public, setting no cookie and carrying no visitor's own
header (`never_kept_headers`), rendered under the tag it is judged by.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, is_resource_modified, parse_cookie, quote_etag
from werkzeug.routing import RequestRedirect

from shop.core.http_cache import (
    FRESHNESS_KEY,
    MEMO_EXTENSION,
    FreshnessMemo,
    Validators,
    cache_control,
    memo_key,
)
from shop.core.logging import REQUEST_ID_HEADER, request_id_for
from shop.core.metrics import KNOWN_METHODS, http_metrics

RENDERED_EXTENSION = "peakshop_rendered_memo"
# Routes remembered per process, by method and path (`FastRevalidation._route`); longer paths
# are matched every time, so that a stream of invented paths cannot grow the memo much.
ROUTES_REMEMBERED = 4096
ROUTE_PATH_REMEMBERED = 512
_NOT_SEEN = object()
# Headers of a kept answer that belong to one request or to the validators of the moment:
# set anew for every answer given from the memo.
_PER_ANSWER = frozenset({"date", "etag", "last-modified", REQUEST_ID_HEADER.lower()})


@dataclass(frozen=True)
class SharedRead:
    """A route whose revalidations FastRevalidation answers: the `public_read` view's own
    freshness function, and whether a session cookie makes a request personal (pages).
    `freshness_of(resources, **view_args)`, when given, is the same function taking the
    app's resources (`app.extensions["peakshop"]`) instead of finding them in an app
    context: pushing one for every read costs more than the rest of its Python."""

    find_freshness: Callable[..., Validators | None]
    personal_with_session: bool = False
    freshness_of: Callable[..., Validators | None] | None = None


@dataclass(frozen=True)
class Rendered:
    """A kept answer: what Flask sent, minus the per-answer headers, and the (quoted) entity
    tag it was rendered under."""

    etag: str
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(name) + len(value) for name, value in self.headers)


class RenderedMemo:
    """The last full answer of each shared read in this process, by request, kept while
    `max_bytes` allow (least recently used goes first; 0 keeps nothing).

    No clock: an answer is given only while the freshness facts still give its tag, so a
    change anywhere (another process, another pod) retires it at the next read of the facts.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._entries: OrderedDict[tuple, Rendered] = OrderedDict()
        # gthread workers share the memo between threads: one change at a time.
        self._lock = threading.Lock()

    def get(self, key: tuple, etag: str) -> Rendered | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found.etag != etag:
                return None
            self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, rendered: Rendered) -> None:
        size = rendered.size + sum(len(part) for part in key)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.used -= old.size + sum(len(part) for part in key)
            while self._entries and self.used + size > self.max_bytes:
                oldest_key, oldest = self._entries.popitem(last=False)
                self.used -= oldest.size + sum(len(part) for part in oldest_key)
            self._entries[key] = rendered
            self.used += size


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
                 memo: FreshnessMemo | None = None, rendered: RenderedMemo | None = None,
                 count_answer: Callable[[dict], None] = lambda environ: None,
                 never_kept_headers: Iterable[str] = ()) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.reads = dict(reads)
        self.may_answer = may_answer
        self.memo = memo or FreshnessMemo(0)
        self.rendered = rendered or RenderedMemo(0)
        self.count_answer = count_answer
        self.never_kept = frozenset({"set-cookie", *(name.lower() for name in never_kept_headers)})
        self.resources = app.extensions["peakshop"]
        self.cache_control = cache_control(self.resources.settings)
        # The static start of each read's URL rule: other paths are not looked up at all.
        self.prefixes = tuple({rule.rule.split("<", 1)[0] for rule in app.url_map.iter_rules()
                               if rule.endpoint in self.reads})
        self.session_cookie = app.session_interface.get_cookie_name(app)
        # Without host or subdomain matching, Flask's URL map matches on the method and the
        # path alone, the same way every time: its answer for a path is remembered.
        self._routes: dict[tuple[str, str], tuple | None] | None = (
            None if app.url_map.host_matching or app.subdomain_matching else {})
        self._date: tuple[int, str] = (0, "")

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        conditional = environ.get("HTTP_IF_NONE_MATCH") or environ.get("HTTP_IF_MODIFIED_SINCE")
        keeps = method == "GET" and self.rendered.max_bytes > 0
        if (method not in ("GET", "HEAD") or not (conditional or keeps)
                # If-Match and ranges are rare on these reads: Flask answers them in full.
                or "HTTP_IF_MATCH" in environ or "HTTP_RANGE" in environ
                or not environ.get("PATH_INFO", "").startswith(self.prefixes)):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        # A revalidation may be judged on remembered facts (the memo's stated staleness); a
        # full answer never is: it is as live as a rendering, kept or not.
        found = self._freshness(environ, remembered_will_do=bool(conditional))
        if found is None:
            return self.wsgi_app(environ, start_response)
        rule, view_args, read, validators = found
        etag = quote_etag(validators.etag, weak=True)
        if conditional and not is_resource_modified(environ, etag,
                                                    last_modified=validators.last_modified):
            if not self.may_answer(environ, view_args):
                return self.wsgi_app(environ, start_response)
            environ.pop(FRESHNESS_KEY, None)
            start_response("304 NOT MODIFIED", self._validator_headers(read, validators, etag))
            self._count(method, rule.rule, "304", time.perf_counter() - started)
            return []
        if not keeps:
            return self.wsgi_app(environ, start_response)
        if FRESHNESS_KEY not in environ:  # judged on remembered facts: read them now
            found = self._freshness(environ, remembered_will_do=False)
            if found is None:
                return self.wsgi_app(environ, start_response)
            rule, view_args, read, validators = found
            etag = quote_etag(validators.etag, weak=True)
        key = self._rendered_key(environ)
        kept = self.rendered.get(key, etag)
        if kept is None or not self.may_answer(environ, view_args):
            return self._render_and_keep(environ, start_response, key, etag)
        environ.pop(FRESHNESS_KEY, None)
        incoming = environ.get("HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_"), "")
        start_response(kept.status, [*kept.headers, ("Date", self._http_date_now()),
                                     (REQUEST_ID_HEADER, request_id_for(incoming)),
                                     *self._validator_headers(read, validators, etag,
                                                              with_policy=False)])
        self._count(method, rule.rule, kept.status.split()[0], time.perf_counter() - started)
        self.count_answer(environ)
        return [kept.body]

    def _freshness(self, environ: dict, *, remembered_will_do: bool) -> tuple | None:
        """(rule, view args, read, validators) of a shared read, or None when Flask must
        answer (another route, a personal request, a shop or product that does not exist,
        a database that does not answer: Flask's error handling says so properly). Facts
        read here are left in the environ for the view, which then needs no query."""
        matched = self._route(environ)
        if matched is None:
            return None
        rule, view_args = matched
        read = self.reads.get(rule.endpoint)
        if read is None or (read.personal_with_session and self._has_session(environ)):
            return None
        key = memo_key(rule.endpoint, view_args)
        validators = self.memo.get(key) if remembered_will_do else None
        if validators is None:
            try:
                if read.freshness_of is not None:
                    validators = read.freshness_of(self.resources, **view_args)
                else:
                    with self.app.app_context():
                        validators = read.find_freshness(**view_args)
            except Exception:  # noqa: BLE001 (whatever it is, the view meets it again)
                return None
            if validators is None:
                return None
            self.memo.put(key, validators)
            environ[FRESHNESS_KEY] = (rule.endpoint, validators)
        return rule, view_args, read, validators

    def _route(self, environ: dict) -> tuple | None:
        """(rule, view args) of the request by Flask's URL map, or None when it has no route
        (or redirects: Flask answers that). The view args are shared: read them only."""
        if self._routes is None:
            return self._match(environ)
        key = (environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        found = self._routes.get(key, _NOT_SEEN)
        if found is _NOT_SEEN:
            found = self._match(environ)
            if len(key[1]) <= ROUTE_PATH_REMEMBERED:
                if len(self._routes) >= ROUTES_REMEMBERED:
                    self._routes.clear()
                self._routes[key] = found
        return found

    def _match(self, environ: dict) -> tuple | None:
        try:
            return self.app.url_map.bind_to_environ(environ).match(return_rule=True)
        except (HTTPException, RequestRedirect):
            return None

    def _http_date_now(self) -> str:
        # The Date header changes once a second: formatted once a second.
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, http_date(second))
        return self._date[1]

    def _validator_headers(self, read: SharedRead, validators: Validators, etag: str, *,
                           with_policy: bool = True) -> list[tuple[str, str]]:
        headers = [("ETag", etag)]
        if with_policy:
            headers.append(("Cache-Control", self.cache_control))
        if validators.last_modified is not None:
            headers.append(("Last-Modified", _http_date_of(validators.last_modified)))
        if with_policy and read.personal_with_session:
            headers.append(("Vary", "Cookie"))
        return headers

    @staticmethod
    def _rendered_key(environ: dict) -> tuple:
        # Everything of the request an answer may depend on: the links in it come from the
        # host and scheme (after the trusted proxies), the listing from the query.
        return (environ.get("wsgi.url_scheme", ""), environ.get("HTTP_HOST", ""),
                environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""),
                environ.get("QUERY_STRING", ""))

    def _render_and_keep(self, environ: dict, start_response, key: tuple, etag: str):
        """Flask's answer, passed on, and kept when any cache could keep it too."""
        sent: list = []

        def start(status, headers, exc_info=None):
            sent[:] = [status, headers]
            return start_response(status, headers, exc_info)

        answer = self.wsgi_app(environ, start)
        try:
            body = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        if sent and self._keepable(sent[0], sent[1], etag):
            self.rendered.put(key, Rendered(etag, sent[0], tuple(
                (name, value) for name, value in sent[1]
                if name.lower() not in _PER_ANSWER), body))
        return [body]

    def _keepable(self, status: str, headers: list[tuple[str, str]], etag: str) -> bool:
        if not status.startswith("200"):
            return False
        tagged = public = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in self.never_kept:
                return False
            if lowered == "etag":
                tagged = value == etag
            elif lowered == "cache-control":
                public = "public" in value and "private" not in value and "no-store" not in value
        return tagged and public

    def _has_session(self, environ: dict) -> bool:
        cookies = environ.get("HTTP_COOKIE")
        return bool(cookies) and self.session_cookie in parse_cookie(cookies)

    @staticmethod
    def _count(method: str, route: str, status: str, seconds: float) -> None:
        http_metrics().answered(method if method in KNOWN_METHODS else "other", route, status,
                                seconds)


@functools.lru_cache(maxsize=1024)
def _http_date_of(moment) -> str:
    # A page's Last-Modified is the same for every answer until the page changes.
    return http_date(moment)


def answer_revalidations_early(app: Flask, reads: Mapping[str, SharedRead],
                               may_answer: Callable[[dict, dict], bool] | None = None, *,
                               count_answer: Callable[[dict], None] = lambda environ: None,
                               never_kept_headers: Iterable[str] = ()) -> None:
    """Put FastRevalidation in front of `app`'s Flask handling for `reads` (by endpoint)."""
    settings = app.extensions["peakshop"].settings
    memo = app.extensions[MEMO_EXTENSION] = FreshnessMemo(
        settings.catalog_revalidation_memo_ms / 1000)
    rendered = app.extensions[RENDERED_EXTENSION] = RenderedMemo(
        settings.catalog_rendered_memo_mb * 1024 * 1024)
    app.wsgi_app = FastRevalidation(app, app.wsgi_app, reads,
                                    may_answer or (lambda environ, args: True), memo,
                                    rendered, count_answer, never_kept_headers)
