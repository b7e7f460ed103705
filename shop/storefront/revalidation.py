"""Which reads are answered before Flask, and what the waiting room says about them.

A revalidation is answered 304 early, and a page given again from the rendered memo, only
when the waiting room has nothing to say: no line to join and no new pass to hand out (the
room decides exactly as for any browsing request, once, and Flask's gate reuses the decision
if the request goes on). The load shedder is not asked: either answer costs less than the
503 that would shed it.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.http import parse_cookie

from shop.catalog import api as catalog_api
from shop.core.early_revalidation import SharedRead, answer_revalidations_early
from shop.status.components import Component
from shop.status.slo_batch import SloBatch
from shop.storefront import catalog_pages
from shop.waiting_room import views as room_views
from shop.waiting_room.gate import CRAWLER_AGENT, FAST_DECISION

GOOD_ANSWERS = "peakshop_good_answers"
SHARED_READS = {
    "catalog_api.list_products": SharedRead(
        catalog_api.listing_freshness, freshness_of=catalog_api.listing_freshness_of),
    "catalog_api.show_product": SharedRead(
        catalog_api.product_freshness, freshness_of=catalog_api.product_freshness_of),
    "storefront.show_catalog": SharedRead(
        catalog_pages.catalog_freshness, personal_with_session=True,
        freshness_of=catalog_pages.catalog_freshness_of),
    "storefront.show_product": SharedRead(
        catalog_pages.product_freshness, personal_with_session=True,
        freshness_of=catalog_pages.product_freshness_of),
}


def room_has_nothing_to_say(app: Flask):
    def may_answer(environ: dict, view_args: dict) -> bool:
        gate = app.extensions.get("peakshop_waiting_room")
        if gate is None or CRAWLER_AGENT.search(environ.get("HTTP_USER_AGENT", "")):
            return True  # crawlers never queue
        decided = environ.get(FAST_DECISION)  # the JSON API's, taken by FastLine already
        if decided is None:
            cookies = environ.get("HTTP_COOKIE")
            ticket = parse_cookie(cookies).get(room_views.ROOM_COOKIE) if cookies else None
            decided = gate.room(view_args["slug"], ticket, gate.load_level(environ))
            environ[FAST_DECISION] = decided
        _, admission = decided
        return admission is None

    return may_answer


class GoodAnswers:
    """Pages given again from the rendered memo, counted as good storefront answers as
    Flask's hook counts the rendered ones (the SLO's ratio must not lose its good events),
    through the same per-process batch (shop/status/slo_batch.py): written to Redis within
    a second, in one round trip for every answer of that second."""

    def __init__(self, redis_client) -> None:
        self.batch = SloBatch(redis_client)

    def __call__(self, environ: dict) -> None:
        self.batch.add(Component.STOREFRONT, good=1, bad=0)

    def flush(self) -> None:
        self.batch.flush()


def init_app(app: Flask) -> None:
    """Call before the waiting room wraps the app, so that its FastLine runs first."""
    good_answers = app.extensions[GOOD_ANSWERS] = GoodAnswers(app.extensions["peakshop"].redis)
    answer_revalidations_early(app, SHARED_READS, room_has_nothing_to_say(app),
                               count_answer=good_answers,
                               never_kept_headers=(room_views.ROOM_HEADER,))
