"""Revalidations of shared reads answered 304 before Flask (see shop.core.http_cache).

A cache's `If-None-Match` then costs Flask's URL map, the freshness facts (remembered for a
second per process) and a few headers: not the app's hooks (request id, metrics hooks, SLO
counting in Redis, security headers, session). What those hooks would add to a 304 is on the
cached 200 already or means nothing for a 304; the request is still counted in the request
metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
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
from shop.core.metrics import KNOWN_METHODS, http_metrics


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
