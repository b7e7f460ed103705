"""The hook in front of every request: class it, ask the room, shed if the server can't cope.

Order of the questions, cheapest first:
1. What is the request worth (`classify`)? Operations, merchants, carts and checkouts never
   meet the room; only browsing (and starting a cart) does.
2. Does the visitor hold a valid pass? Then no Redis at all.
3. Otherwise the room decides in one Redis round trip: no room, let in (a pass comes with the
   response), or wait (the visitor gets their place and an ETA).
4. Last, the shedder: at this process's load level, is this class of request still served?
"""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qs

from flask import Flask, Response, g, request

from common.listen_queue import bind_port
from shop.core import resources
from shop.core.metrics import http_metrics
from shop.storefront import cart_session
from shop.waiting_room import paths, views
from shop.waiting_room.decision import (
    LoadLevel,
    LoadThresholds,
    RequestClass,
    Verdict,
    room_should_open,
    shed_or_admit,
)
from shop.waiting_room.paths import API_BROWSE_RULES, CRAWLER_AGENT  # noqa: F401
from shop.waiting_room.service import (
    OFF_CACHE_MAX_SHOPS,
    OFF_CACHE_S,
    Admission,
    Line,
    Outcome,
    RoomSettings,
)
from shop.waiting_room.service_time import ServiceTimeHeader
from shop.waiting_room.signals import ProcessLoad
from shop.waiting_room.tickets import Tickets

BROWSE_ENDPOINTS = frozenset({"catalog_api.list_products", "catalog_api.show_product",
                              "cart_api.create_cart"})
BROWSE_PAGES = frozenset({"storefront.show_catalog", "storefront.show_product",
                          "storefront.show_cart", "storefront.add_to_cart"})
CART_ENDPOINTS = frozenset({"cart_api.show_cart", "cart_api.set_item",
                            "storefront.update_cart_line"})
CHECKOUT_ENDPOINTS = frozenset({"checkout_api.checkout", "orders_api.show_order",
                                "storefront.show_checkout", "storefront.place_order",
                                "storefront.show_order"})
# Where FastLine leaves the room's decision for the Flask hook.
FAST_DECISION = "peakshop.waiting_room.decision"


class Gate:
    """The per-process state of the hook: signers, the shared line, the load signals."""

    def __init__(self, app: Flask) -> None:
        shop_resources: resources.Resources = app.extensions["peakshop"]
        settings = shop_resources.settings
        self.tickets = Tickets(settings.secret_key, settings.waiting_room_pass_ttl_s)
        self.line = Line(shop_resources.redis, RoomSettings(
            default_admit_per_s=settings.waiting_room_admit_per_s))
        # gunicorn's own setting (shop/gunicorn_conf.py): threads per worker.
        threads = int(os.environ.get("PEAKSHOP_WEB_THREADS", "1") or 1)
        self.load = ProcessLoad(bind_port(settings.bind), threads=threads,
                                thresholds=LoadThresholds(slo_s=settings.latency_slo_s))
        self.shedding = settings.load_shedding
        self.under_gunicorn: bool | None = None
        self._no_room_until: dict[str, float] = {}

    # --- the questions ------------------------------------------------------------------------
    def classify(self) -> tuple[RequestClass, str | None]:
        """The value of this request and the shop it browses (None outside a shop)."""
        endpoint = request.endpoint or ""
        slug = (request.view_args or {}).get("slug")
        if endpoint in CHECKOUT_ENDPOINTS:
            return RequestClass.CHECKOUT, None
        if endpoint in CART_ENDPOINTS:
            return RequestClass.CART, None
        if endpoint in BROWSE_PAGES and isinstance(slug, str) and cart_session.cart_id(slug):
            return RequestClass.CART, None  # a shopper with a cart is never turned away
        if endpoint in BROWSE_ENDPOINTS or endpoint in BROWSE_PAGES:
            if CRAWLER_AGENT.search(request.headers.get("User-Agent", "")):
                return RequestClass.CRAWLER, None
            return RequestClass.ANONYMOUS_BROWSE, slug if isinstance(slug, str) else None
        return RequestClass.ESSENTIAL, None

    def presented_ticket(self) -> str | None:
        if request.path.startswith("/api/"):
            return (request.headers.get(views.ROOM_HEADER)
                    or request.args.get(views.ROOM_PARAM) or None)
        return request.cookies.get(views.ROOM_COOKIE)

    def room_closed_here(self, slug: str) -> bool:
        return self._no_room_until.get(slug, 0.0) > time.monotonic()

    def remember_no_room(self, slug: str) -> None:
        if len(self._no_room_until) >= OFF_CACHE_MAX_SHOPS:
            self._no_room_until.clear()
        self._no_room_until[slug] = time.monotonic() + OFF_CACHE_S

    def load_level(self, environ: dict) -> LoadLevel:
        if self.under_gunicorn is None:
            # Only a gunicorn worker owns the listen socket of settings.bind; a test client
            # or another server must not read someone else's backlog.
            self.under_gunicorn = environ.get("SERVER_SOFTWARE", "").startswith("gunicorn")
            if not self.under_gunicorn:
                self.load.port = None
        return self.load.level()

    def room(self, slug: str, ticket: str | None,
             level: LoadLevel) -> tuple[RequestClass, Admission | None]:
        """The room's answer for an anonymous visitor of `slug`: still anonymous (no room),
        admitted (a pass, or let in now: an ADMIT admission), or a WAIT admission."""
        if self.tickets.has_pass(ticket, slug):
            return RequestClass.ADMITTED_BROWSE, None
        if self.room_closed_here(slug):
            return RequestClass.ANONYMOUS_BROWSE, None
        place = self.tickets.read_place(ticket, slug)
        admission = self.line.admit(slug, place.number if place else None,
                                    overloaded=room_should_open(level))
        if admission.outcome is Outcome.NO_ROOM:
            self.remember_no_room(slug)
            return RequestClass.ANONYMOUS_BROWSE, None
        return RequestClass.ADMITTED_BROWSE, admission

    # --- the hook ----------------------------------------------------------------------------
    def before(self) -> Response | None:
        request_class, slug = self.classify()
        if request_class is RequestClass.ESSENTIAL:
            return None
        level = self.load_level(request.environ)
        if request_class is RequestClass.ANONYMOUS_BROWSE and slug is not None:
            decided = request.environ.pop(FAST_DECISION, None)
            request_class, admission = decided or self.room(slug, self.presented_ticket(),
                                                            level)
            if admission is not None and admission.outcome is Outcome.WAIT:
                return views.waiting(slug, admission, self.tickets.place(slug, admission.number))
            if admission is not None:
                g.waiting_room_pass = (slug, self.tickets.admission(slug))
        if self.shedding and shed_or_admit(request_class, level) is Verdict.SHED:
            return views.shed(request_class, level)
        g.waiting_room_served_at = time.perf_counter()
        return None

    def after(self, response: Response) -> Response:
        started = g.pop("waiting_room_served_at", None)
        if started is not None:
            self.load.served(time.perf_counter() - started)
        granted = g.pop("waiting_room_pass", None)
        if granted is not None:
            views.hand_pass(response, *granted, max_age_s=self.tickets.pass_ttl_s)
        return response


class FastLine:
    """The JSON API's waiting answers, given before Flask handles the request at all.

    Every arrival and every refresh of the line is a request the web pods must answer, so
    during a surge most requests are waiting answers: here they cost a path match, an HMAC
    and the Lua script, without Flask's routing, contexts and hooks (about a third of the
    CPU). Anything else, and every visitor let in, goes on to Flask, where `Gate.before`
    finds the room's decision in the environ instead of asking Redis again.
    """

    def __init__(self, wsgi_app, gate: Gate) -> None:
        self.wsgi_app = wsgi_app
        self.gate = gate

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        browsed = api_browse(environ)
        if browsed is None or CRAWLER_AGENT.search(environ.get("HTTP_USER_AGENT", "")):
            return self.wsgi_app(environ, start_response)
        slug, rule = browsed
        level = self.gate.load_level(environ)
        decided = self.gate.room(slug, _api_ticket(environ), level)
        admission = decided[1]
        if admission is not None and admission.outcome is Outcome.WAIT:
            place = self.gate.tickets.place(slug, admission.number)
            status, headers, body = views.waiting_problem(admission, place)
            start_response(status, headers)
            # Counted as Flask's hook counts every other answer: during a surge most answers
            # are these, and a dashboard without them would show a quiet shop.
            metrics = http_metrics()
            metrics.latency.labels(environ["REQUEST_METHOD"], rule).observe(
                time.perf_counter() - started)
            metrics.requests.labels(environ["REQUEST_METHOD"], rule, status.split()[0]).inc()
            return [body]
        environ[FAST_DECISION] = decided
        return self.wsgi_app(environ, start_response)


def api_browse(environ: dict) -> tuple[str, str] | None:
    """The shop and the URL rule of a JSON API request that meets the room, else None."""
    # WSGI hands the path as latin-1; Flask decodes it as UTF-8, and so must the slug here.
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    return paths.api_browse(environ.get("REQUEST_METHOD", ""), path)


def _api_ticket(environ: dict) -> str | None:
    ticket = environ.get("HTTP_PEAKSHOP_WAITING_ROOM")
    if ticket:
        return ticket
    query = environ.get("QUERY_STRING", "")
    if views.ROOM_PARAM + "=" not in query:
        return None
    return (parse_qs(query).get(views.ROOM_PARAM) or [None])[0]


def init_app(app: Flask) -> None:
    """Put the gate in front of every request of `app`."""
    gate = Gate(app)
    app.extensions["peakshop_waiting_room"] = gate
    app.before_request(gate.before)
    app.after_request(gate.after)
    # Outermost: the time gunicorn spends on a request, waiting answers included, for the
    # gate in front when it asks.
    app.wsgi_app = ServiceTimeHeader(FastLine(app.wsgi_app, gate))
