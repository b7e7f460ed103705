"""The gate's HTTP server (aiohttp's low-level server: no routing, one handler).

For each request, cheapest first: is it a JSON API request that meets the waiting room (the
same paths as `gate.FastLine`)? Then the room decides here, and a visitor in line gets the
`waiting_room` 503 without gunicorn ever seeing the request. Everything else, and every
visitor let in, waits for a slot (most valuable first) and is proxied to gunicorn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

import aiohttp
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from redis.exceptions import RedisError
from yarl import URL

from common import pushed_backlog
from shop.core.http_metrics import KNOWN_METHODS, gate_metrics, http_metrics, multiprocess_dir
from shop.core.pod_agent import pod_name
from shop.core.problem_json import PROBLEM_JSON, problem_body
from shop.edge import proxy
from shop.edge.classes import request_class
from shop.edge.room import AsyncLine, EdgeRoom, RoomAnswer, async_client
from shop.edge.settings import GateSettings
from shop.edge.slots import SlotWaitTimeout, UpstreamSlots
from shop.waiting_room.answers import ROOM_COOKIE, ROOM_HEADER, ROOM_PARAM, waiting_problem
from shop.waiting_room.decision import (
    OPEN_AFTER_SAMPLES,
    LoadThresholds,
    RequestClass,
    overload_has_lasted,
    room_should_open,
)
from shop.waiting_room.page import (
    SESSION_COOKIE,
    SessionCarts,
    cookie_values,
    room_cookie,
    waiting_page,
    with_room_cookie,
)
from shop.waiting_room.paths import CRAWLER_AGENT, api_browse, page_browse
from shop.waiting_room.service import RoomSettings
from shop.waiting_room.service_time import SERVICE_TIME, SERVICE_TIME_ASKED, told_service_time
from shop.waiting_room.tickets import Tickets

log = logging.getLogger(__name__)
UNANSWERED_ROUTE = "unmatched"   # the metrics' label of the gate's answers outside a known route
CHUNK_BYTES = 64 * 1024


WATCH_EVERY_S = 0.5
POOL_CAP = 256
WORKERS_EVERY_S = 2.0
OVERLOAD_LOG_EVERY_S = 5.0   # why the gate asks the line to slow down, at most this often
# The gate judges its queue against half the shoppers' SLO: the wait it reads is the queue's
# of the moment, and the p95 the shoppers see over a second runs about twice that (at the
# edge of capacity, the queue held at its target of half the SLO: p95 0.6-0.8 s of 0.5).
QUEUE_SLO_SHARE = 0.5


@dataclass
class Told:
    """What gunicorn said of one request: the seconds it spent on it (None: not said)."""

    upstream_s: float | None = None


class Gate:
    """One gate process: the room, the slots to gunicorn and the connection pool.

    `upstream_workers`, when given, counts gunicorn's workers (`serve --gate`, where the
    scaler may add some): the slots then follow, twice the workers x threads.
    """

    def __init__(self, settings: GateSettings,
                 upstream_workers: Callable[[], int] | None = None, index: int = 0) -> None:
        app = settings.app
        self.settings = settings
        self.index = index   # of the gate processes sharing the port (PEAKSHOP_GATE_PROCESSES)
        self.upstream_workers = upstream_workers
        self._watcher: asyncio.Task | None = None
        self._publish_warned_at = float("-inf")
        self.thresholds = LoadThresholds(slo_s=app.latency_slo_s * QUEUE_SLO_SHARE)
        self.slots = UpstreamSlots(settings.slot_share(settings.upstream_concurrency),
                                   self.thresholds)
        # gunicorn overloaded or not, sampled every WATCH_EVERY_S: the room opens only on an
        # overload that lasted (`decision.overload_has_lasted`).
        self._overloads: deque[bool] = deque(maxlen=OPEN_AFTER_SAMPLES)
        self._overload_said_at = float("-inf")
        self.tickets = Tickets(app.secret_key, app.waiting_room_pass_ttl_s)
        self.session_carts = SessionCarts(app.secret_key)
        self.redis = async_client(app.redis_url)
        # No floor under the admission rate: the crowd's own requests never reach gunicorn
        # here, so the gate's queue measures only what the line lets in (see RoomSettings).
        self.room = EdgeRoom(AsyncLine(self.redis, RoomSettings(
            default_admit_per_s=app.waiting_room_admit_per_s, intake_floor_share=0.0)),
            self.tickets)
        self.upstream = URL(settings.upstream_url)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # A keep-alive pool (gunicorn's gthread workers keep connections; its sync workers
        # close each one, and the pool then simply reconnects). The slots bound the requests
        # in flight, and so the connections in use; the pool's own cap is a backstop.
        connector = aiohttp.TCPConnector(limit=max(POOL_CAP, self.settings.upstream_concurrency),
                                         keepalive_timeout=4)  # below gunicorn's keepalive
        self.session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5,
                                          sock_read=self.settings.upstream_timeout_s))

        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Publish the queue for /metrics (the scaler reads it) and follow gunicorn's workers."""
        metrics = gate_metrics()
        threads = int(os.environ.get("PEAKSHOP_WEB_THREADS") or 1)
        workers_at = 0.0
        while True:
            self.slots.sample_backlog()
            overloaded = room_should_open(self.slots.level())
            self._overloads.append(overloaded)
            if overloaded and time.monotonic() >= self._overload_said_at + OVERLOAD_LOG_EVERY_S:
                self._overload_said_at = time.monotonic()
                load = self.slots.load()
                log.info("gunicorn overloaded as the gate sees it: %d requests waiting for "
                         "%d slots, %.3f s a request by gunicorn (%.3f s by the gate), busy "
                         "share %s", load.waiting, load.slots, load.service_time_s,
                         self.slots.service_time_s,
                         "unknown" if load.busy_share is None else f"{load.busy_share:.2f}")
            metrics.waiting.set(self.slots.waiting)
            metrics.in_flight.set(self.slots.in_flight)
            if self.settings.app.publish_backlog:
                await self._publish_queue()
            now = time.monotonic()
            if self.upstream_workers is not None and now - workers_at >= WORKERS_EVERY_S:
                workers_at = now
                workers = self.upstream_workers()
                share = self.settings.slot_share(2 * workers * threads)
                if workers and share != self.slots.limit:
                    log.info("gunicorn has %d workers: %d requests at once (%d from this "
                             "gate process)", workers, 2 * workers * threads, share)
                    self.slots.resize(share)
            await asyncio.sleep(WATCH_EVERY_S)

    async def _publish_queue(self) -> None:
        """Behind the gate gunicorn's listen backlog stays short: the crowd queues here. So
        the gate files its own queue beside the master's backlog (field "<pod>/gate"), and
        the scaler's push hears the pod's whole queue. A Redis outage costs the push only."""
        try:
            field = f"{pod_name()}/gate" + (f"-{self.index}" if self.index else "")
            await pushed_backlog.publish(self.redis, field, self.slots.waiting)
        except RedisError as problem:
            if time.monotonic() >= self._publish_warned_at + 60:
                self._publish_warned_at = time.monotonic()
                log.warning("gate queue not published to Redis (the scaler hears no push "
                            "from it): %s", problem)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        if self.session is not None:
            await self.session.close()
        await self.redis.aclose()
        if multiprocess_dir():
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())   # its live gauges leave /metrics

    # --- the handler --------------------------------------------------------------------------
    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        user_agent = request.headers.get("User-Agent", "")
        browsed = api_browse(request.method, request.path)
        paged = None if browsed else page_browse(request.method, request.path)
        answer = RoomAnswer()
        page_slug = None   # a page's visitor let in here gets the pass as the app's cookie
        has_cart = False
        if browsed is not None and not CRAWLER_AGENT.search(user_agent):
            slug, rule = browsed
            ticket = (request.headers.get(ROOM_HEADER)
                      or request.query.get(ROOM_PARAM) or None)
            answer = await self._decide(slug, ticket)
            if answer.admission is not None:
                status, headers, body = waiting_problem(answer.admission, answer.place_token)
                return self._answer(request, rule, started, int(status.split()[0]),
                                    dict(headers), body)
        elif paged is not None and not CRAWLER_AGENT.search(user_agent):
            slug, rule = paged
            cookies = cookie_values("; ".join(request.headers.getall("Cookie", [])))
            # A browser with a cart in the shop never waits (as in the app's room).
            has_cart = self.session_carts.has_cart(cookies.get(SESSION_COOKIE), slug)
            if not has_cart:
                answer = await self._decide(slug, cookies.get(ROOM_COOKIE))
                if answer.admission is not None:
                    return self._answer(request, rule, started, *waiting_page(
                        slug, answer.admission, answer.place_token, self._secure(request)))
                page_slug = slug
        value = (RequestClass.CART if has_cart
                 else request_class(request.method, request.path, user_agent, answer.admitted))
        routed = browsed or paged
        return await self.forward(request, value, answer.new_pass,
                                  routed[1] if routed else UNANSWERED_ROUTE, started, page_slug)

    async def _decide(self, slug: str, ticket: str | None) -> RoomAnswer:
        """The room's answer, reporting gunicorn's load as gunicorn measures it: overloaded
        or not (and whether for long enough to open the room), by how much to cut the
        admission rate (in proportion to the queue of let-in requests here), or, calm, by
        how much it may grow (in proportion to gunicorn's headroom)."""
        overloaded = room_should_open(self.slots.level())
        return await self.room.decide(
            slug, ticket, overloaded=overloaded,
            rate_cut=self.slots.rate_cut() if overloaded else None,
            may_open=overloaded and overload_has_lasted(self._overloads),
            rate_rise=None if overloaded else self.slots.rate_rise())

    def _secure(self, request: web.BaseRequest) -> bool:
        """Whether the visitor came over HTTPS (a trusted proxy in front says so), as
        Flask's `request.is_secure` decides behind the same number of hops."""
        if self.settings.app.proxy_hops == 0:
            return request.scheme == "https"
        told = [value.strip() for header in request.headers.getall("X-Forwarded-Proto", [])
                for value in header.split(",") if value.strip()]
        return bool(told) and told[-1].lower() == "https"

    async def forward(self, request: web.BaseRequest, value: RequestClass,
                      new_pass: str | None, rule: str, started: float,
                      page_slug: str | None = None) -> web.StreamResponse:
        """Proxy `request` to gunicorn once a slot is free; the gate's own 503 if it can't."""
        try:
            # A request that waited this long for a slot would time out in gunicorn anyway:
            # a 503 now is kinder than a connection that hangs.
            await self.slots.acquire(value, self.thresholds.critical_wait_s)
        except SlotWaitTimeout:
            return self._answer(request, rule, started, *proxy.gate_full(value.name.lower()))
        sent_at = time.perf_counter()
        told = Told()
        try:
            return await self._proxy(request, new_pass, rule, started, page_slug, told)
        finally:
            self.slots.release(time.perf_counter() - sent_at, upstream_s=told.upstream_s)

    async def _proxy(self, request: web.BaseRequest, new_pass: str | None, rule: str,
                     started: float, page_slug: str | None = None,
                     told: Told | None = None) -> web.StreamResponse:
        headers = proxy.upstream_headers(request.headers, request.remote,
                                         self.settings.app.proxy_hops, request.scheme)
        # gunicorn's own time for this request, in its answer's SERVICE_TIME header.
        headers[SERVICE_TIME_ASKED] = "1"
        if new_pass is not None and page_slug is not None:
            # A page: the app reads the pass from the room's cookie.
            headers["Cookie"] = with_room_cookie("; ".join(headers.popall("Cookie", [])),
                                                 new_pass)
        elif new_pass is not None:
            # Let in here: gunicorn sees a valid pass and does not ask the line again.
            headers[ROOM_HEADER] = new_pass
        body = request.content if request.body_exists else None
        try:
            upstream = await self._send(request, headers, body)
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            log.warning("gunicorn did not answer %s %s: %r", request.method, rule, error)
            why = ("did not answer in time" if isinstance(error, TimeoutError)
                   else "is not answering (restarting or down)")
            if proxy.wants_page(request.path, request.headers.get("Accept", "")):
                return self._answer(request, rule, started, *proxy.storefront_unavailable_page())
            return self._answer(request, rule, started, *proxy.storefront_unavailable(why))
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            downstream = proxy.downstream_headers(upstream.headers)
            spent = told_service_time(downstream.popone(SERVICE_TIME, None))
            downstream.popall(SERVICE_TIME, None)
            if told is not None:
                told.upstream_s = spent
            response.headers.extend(downstream)
            if new_pass is not None and page_slug is not None:
                response.headers.add("Set-Cookie", room_cookie(
                    new_pass, page_slug, self.tickets.pass_ttl_s, self._secure(request)))
                proxy.keep_private(response.headers)
            elif new_pass is not None:
                response.headers[ROOM_HEADER] = new_pass
                proxy.keep_private(response.headers)
            try:
                await response.prepare(request)
                await self._relay(request, upstream, response, rule)
            except ConnectionResetError:
                # The client left (gave up waiting, or went on): nobody is left to answer.
                log.debug("client left before the answer to %s %s", request.method, rule)
            return response

    async def _send(self, request: web.BaseRequest, headers, body) -> aiohttp.ClientResponse:
        url = self.upstream.join(URL(request.raw_path, encoded=True))
        try:
            return await self.session.request(request.method, url, headers=headers, data=body,
                                              allow_redirects=False)
        except aiohttp.ServerDisconnectedError:
            # A kept-alive connection gunicorn closed just as it was reused: gunicorn never
            # saw the request. Once more on a new connection, when sending it twice is safe.
            if body is not None or request.method not in ("GET", "HEAD", "OPTIONS"):
                raise
            return await self.session.request(request.method, url, headers=headers,
                                              allow_redirects=False)

    async def _relay(self, request: web.BaseRequest, upstream: aiohttp.ClientResponse,
                     response: web.StreamResponse, rule: str) -> None:
        """Stream gunicorn's body to the client; if gunicorn breaks off, cut the client's
        connection so that it sees an incomplete answer, not a complete-looking one."""
        try:
            async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
                await response.write(chunk)
        except ConnectionResetError:
            raise
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("gunicorn's answer to %s %s broke off: %r", request.method, rule, error)
            if request.transport is not None:
                request.transport.close()
            return
        await response.write_eof()

    def _answer(self, request: web.BaseRequest, rule: str, started: float, status: int,
                headers: dict[str, str], body: bytes) -> web.Response:
        """An answer of the gate's own, counted as Flask counts its answers: during a surge
        most answers are these, and a dashboard without them would show a quiet shop."""
        metrics = http_metrics()
        method = request.method if request.method in KNOWN_METHODS else "other"
        metrics.latency.labels(method, rule).observe(time.perf_counter() - started)
        metrics.requests.labels(method, rule, str(status)).inc()
        return web.Response(status=status, headers={**headers, "Server": "peakshop-gate"},
                            body=body)


class ProblemRequestHandler(RequestHandler):
    """aiohttp's own answers (a request that is not valid HTTP, a line or header too long, a
    bug) as problem+json like every other error, without echoing what was sent."""

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)   # logs it; raises if half-sent
        if status >= 500:
            detail = "the gate failed on this request (a bug, reported); retry"
        else:
            detail = ("the request is not valid HTTP/1.1: send a request line and headers of "
                      "at most 8190 bytes each")
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        body = problem_body(status, phrase.lower().replace(" ", "_") or "error", phrase, detail)
        answer = web.Response(status=status, body=json.dumps(body).encode(),
                              headers={"Content-Type": PROBLEM_JSON, "Server": "peakshop-gate"})
        answer.force_close()
        return answer


class GateServer(web.Server):
    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


async def serve(settings: GateSettings, stop: asyncio.Event,
                upstream_workers: Callable[[], int] | None = None, index: int = 0) -> None:
    """Answer on PEAKSHOP_BIND until `stop` is set, then finish what is in flight. Gate
    process `index` of `settings.processes`: several share the port (SO_REUSEPORT, the
    kernel spreads the connections over them)."""
    gate = Gate(settings, upstream_workers, index)
    await gate.start()
    server = GateServer(gate.handle)
    runner = web.ServerRunner(server, shutdown_timeout=25)
    await runner.setup()
    host, _, port = settings.app.bind.rpartition(":")
    site = web.TCPSite(runner, host.strip("[]"), int(port), backlog=1024, reuse_address=True,
                       reuse_port=settings.processes > 1 or None)
    await site.start()
    log.info("gate process %d of %d on %s in front of %s (%d requests at once from this one)",
             index + 1, settings.processes, settings.app.bind, settings.upstream,
             gate.slots.limit)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await gate.close()
