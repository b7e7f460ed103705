"""Which reads are answered before Flask, and what the waiting room says about them.

A revalidation is answered 304 early, and a page given again from the rendered memo, only
when the waiting room has nothing to say: no line to join and no new pass to hand out (the
room decides exactly as for any browsing request, once, and Flask's gate reuses the decision
if the request goes on). The load shedder is not asked: either answer costs less than the
503 that would shed it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask
from werkzeug.http import parse_cookie

from shop.catalog import api as catalog_api
from shop.core.early_revalidation import SharedRead, answer_revalidations_early
from shop.status import slo_counter
from shop.status.components import Component
from shop.storefront import catalog_pages
from shop.waiting_room import views as room_views
from shop.waiting_room.gate import CRAWLER_AGENT, FAST_DECISION

GOOD_ANSWERS = "peakshop_good_answers"
SHARED_READS = {
    "catalog_api.list_products": SharedRead(catalog_api.listing_freshness),
    "catalog_api.show_product": SharedRead(catalog_api.product_freshness),
    "storefront.show_catalog": SharedRead(catalog_pages.catalog_freshness,
                                          personal_with_session=True),
    "storefront.show_product": SharedRead(catalog_pages.product_freshness,
                                          personal_with_session=True),
}


def room_has_nothing_to_say(app: Flask):
    def may_answer(environ: dict, view_args: dict) -> bool:
        gate = app.extensions.get("peakshop_waiting_room")
        if gate is None or CRAWLER_AGENT.search(environ.get("HTTP_USER_AGENT", "")):
            return True  # crawlers never queue
        decided = environ.get(FAST_DECISION)  # the JSON API's, taken by FastLine already
        if decided is None:
            ticket = parse_cookie(environ.get("HTTP_COOKIE", "")).get(room_views.ROOM_COOKIE)
            decided = gate.room(view_args["slug"], ticket, gate.load_level(environ))
            environ[FAST_DECISION] = decided
        _, admission = decided
        return admission is None

    return may_answer


class GoodAnswers:
    """Pages given again from the rendered memo, counted as good storefront answers as
    Flask's hook counts the rendered ones (the SLO's ratio must not lose its good events),
    but added to the SLO's bucket at most once every `flush_s` per process: the counter's
    Redis round trip would otherwise be a third of such an answer's cost. What is pending
    when traffic stops is added with the next answer; what a stopping process still holds
    (at most a second's worth) is lost: a few good events fewer, never a bad one more."""

    def __init__(self, redis_client, flush_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis_client
        self.flush_s = flush_s
        self.clock = clock
        self.pending = 0
        self.flushed_at = clock()
        self.lock = threading.Lock()

    def __call__(self, environ: dict) -> None:
        with self.lock:
            self.pending += 1
            due = self.clock() - self.flushed_at >= self.flush_s
        if due:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            counted, self.pending = self.pending, 0
            self.flushed_at = self.clock()
        if counted:
            slo_counter.record(self.redis, Component.STOREFRONT, good=counted, bad=0)


def init_app(app: Flask) -> None:
    """Call before the waiting room wraps the app, so that its FastLine runs first."""
    good_answers = app.extensions[GOOD_ANSWERS] = GoodAnswers(app.extensions["peakshop"].redis)
    answer_revalidations_early(app, SHARED_READS, room_has_nothing_to_say(app),
                               count_answer=good_answers,
                               never_kept_headers=(room_views.ROOM_HEADER,))
