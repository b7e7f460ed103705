"""The scaler's side of the shop's events API, against a real HTTP server on loopback.

The server below is a stand-in until the shop's own `GET /api/v1/ops/events` and
`PUT /api/v1/ops/events/{id}/plan` land (built in parallel): it serves exactly the agreed JSON
and records the plans it is sent, over real HTTP, so the client, the poller and the live
policy are exercised end to end.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from scaler.events import EventsFileError
from scaler.live_policy import peakshop_policy
from scaler.model import Observation
from scaler.settings import ScalerConfigError, build_settings, season_start
from scaler.shop_events import ShopEventsClient, ShopEventsPoller, parse_shop_events, rfc3339

TOKEN = "ops-secret"
ORIGIN = season_start("2024-10-01")       # minute 0 of the season, as `--season-start` reads
DAY_S = 86400


def at_offset(season_s: float, hours: int) -> str:
    """An RFC 3339 time on the season clock, written with a UTC offset of `hours`."""
    zone = dt.timezone(dt.timedelta(hours=hours))
    return dt.datetime.fromtimestamp(ORIGIN + season_s, tz=zone).isoformat()


class ShopStandIn:
    """The shop's ops events endpoints: the agreed JSON, a Bearer token, recorded plans."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items
        self.plans: dict[str, dict] = {}
        self.queries: list[dict] = []
        self.down = False
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, body: dict | None = None) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if stand_in.down:
                    self._reply(503, {"title": "down"})
                    return False
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._reply(401, {"title": "Unauthorized"})
                    return False
                return True

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != "/api/v1/ops/events":
                    return self._reply(404)
                if self._authorised():
                    query = {key: values[0] for key, values in parse_qs(url.query).items()}
                    stand_in.queries.append(query)
                    self._reply(200, {"items": stand_in.items})

            def do_PUT(self) -> None:
                parts = urlparse(self.path).path.split("/")
                if parts[:5] != ["", "api", "v1", "ops", "events"] or parts[6:] != ["plan"]:
                    return self._reply(404)
                if self._authorised():
                    length = int(self.headers.get("Content-Length", 0))
                    stand_in.plans[parts[5]] = json.loads(self.rfile.read(length))
                    self._reply(200, {"id": parts[5]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def item(event_id: str, starts_at: str, minutes: float, rps: float) -> dict:
    return {"id": event_id, "shop": "acme", "name": f"launch {event_id}",
            "starts_at": starts_at, "duration_min": minutes, "expected_peak_rps": rps,
            "planned_capacity": None}


@pytest.fixture
def shop():
    # e1 from 20:00 for an hour, e2 from 20:01 for half an hour (written at +01:00), e3 alone
    # at 22:00
    stand_in = ShopStandIn([item("e1", at_offset(DAY_S + 20 * 3600, 0), 60, 300.0),
                            item("e2", at_offset(DAY_S + 20 * 3600 + 60, 1), 30, 200.0),
                            item("e3", at_offset(DAY_S + 22 * 3600, 0), 30, 200.0)])
    yield stand_in
    stand_in.close()


def test_the_client_reads_the_agreed_json_with_the_token(shop):
    client = ShopEventsClient(shop.url, TOKEN, origin_s=ORIGIN)
    events = client.fetch(ORIGIN, ORIGIN + 3 * 86400)
    assert [(event.id, event.start_s, event.duration_s, event.extra_rps) for event in events] == [
        ("e1", DAY_S + 20 * 3600, 3600.0, 300.0),
        ("e2", DAY_S + 20 * 3600 + 60, 1800.0, 200.0),   # the offset is honoured
        ("e3", DAY_S + 22 * 3600, 1800.0, 200.0),
    ]
    assert shop.queries == [{"from": rfc3339(ORIGIN), "to": rfc3339(ORIGIN + 3 * DAY_S)}]


def test_a_wrong_token_names_the_setting(shop):
    with pytest.raises(EventsFileError, match="401 .*PEAKSHOP_OPS_TOKEN"):
        ShopEventsClient(shop.url, "wrong", origin_s=ORIGIN).fetch(ORIGIN, ORIGIN + 60)


@pytest.mark.parametrize("body, problem", [
    ('{"items": [{"id": "x", "name": "a", "starts_at": "tomorrow", "duration_min": 5, '
     '"expected_peak_rps": 1}]}', "not RFC 3339"),
    ('{"items": [{"id": "x", "name": "a", "starts_at": "2024-10-02T20:00:00", '
     '"duration_min": 5, "expected_peak_rps": 1}]}', "no offset"),
    ('{"items": [{"id": "x", "name": "a", "starts_at": "2024-10-02T20:00:00Z", '
     '"duration_min": 5, "expected_peak_rps": -3}]}', "expected_peak_rps must be from 0"),
    ('{"items": [{"id": "x", "name": "", "starts_at": "2024-10-02T20:00:00Z", '
     '"duration_min": 5, "expected_peak_rps": 1}]}', "needs a name"),
    ('[1, 2]', "expected"),
    ('not json', "is not JSON"),
])
def test_malformed_events_are_refused_with_the_reason(body, problem):
    with pytest.raises(EventsFileError, match=problem):
        parse_shop_events(body, ORIGIN)


def test_a_failed_poll_keeps_the_last_known_events(shop):
    poller = ShopEventsPoller(ShopEventsClient(shop.url, TOKEN, origin_s=ORIGIN, timeout_s=2),
                              clock=lambda: ORIGIN)
    assert poller.poll_once()
    version, known = poller.schedule()
    assert len(known) == 3
    shop.down = True
    assert not poller.poll_once()
    shop.close()                       # and then gone altogether
    assert not poller.poll_once()
    assert poller.schedule() == (version, known)
    assert poller.failures == 2


def test_the_live_policy_sizes_for_overlapping_events_and_records_its_plans(shop):
    """At 20:01:30 both crowds are expected (an event counts from 225 s before its start until
    300 s after; live, without pushes or in-pod resize, with a 1.25 margin): 300 + 200 rps on
    top of the calm rate, and the plan holds while the traffic signal is missing."""
    settings = build_settings({"target": "kubernetes", "namespace": "shop",
                               "events_from": shop.url, "season_start": "2024-10-01"},
                              environ={"PEAKSHOP_OPS_TOKEN": TOKEN})
    policy = peakshop_policy(settings)
    policy.poller.clock = lambda: ORIGIN + DAY_S
    assert policy.poller.poll_once()
    state = policy.initial_state(4, 2)
    overlap = ORIGIN + DAY_S + 20 * 3600 + 90
    calm = Observation(at_s=overlap - 3 * 3600, request_rate=100.0, latency_p95_s=0.05,
                       latency_within_slo=True, cpu_utilization=0.3, queue_backlog=0,
                       queue_oldest_age_s=0.0, orders_rate=2.0, web_ready=4, web_requested=4,
                       workers_ready=2, workers_requested=2)
    _, state = policy.decide(calm, state)
    gone = calm._replace(at_s=overlap, request_rate=None, latency_within_slo=None,
                       age_s=30.0)
    for _ in range(3):   # up in steps of the scale-up limit: 4 -> 16 -> 26
        decision, state = policy.decide(gone, state)
    # 100 rps calm + (300 + 200) x 1.25 announced = 725 rps at 28.8 rps a pod: 26 pods
    assert (decision.web.replicas, decision.web.reason.value) == (26, "scheduled_event")

    policy.poller.record_plans()
    # e1 and e2 overlap (both count in both plans), ready 3 minutes early; e3 is alone:
    # 100 + 200 x 1.25 = 350 rps -> 13 pods.
    assert shop.plans == {
        "e1": {"web_replicas": 26, "ready_by": rfc3339(ORIGIN + DAY_S + 20 * 3600 - 180)},
        "e2": {"web_replicas": 26, "ready_by": rfc3339(ORIGIN + DAY_S + 20 * 3600 - 120)},
        "e3": {"web_replicas": 13, "ready_by": rfc3339(ORIGIN + DAY_S + 22 * 3600 - 180)},
    }
    shop.plans.clear()
    policy.poller.record_plans()       # nothing changed: nothing sent again
    assert shop.plans == {}


def test_events_from_needs_the_ops_token():
    with pytest.raises(ScalerConfigError, match="PEAKSHOP_OPS_TOKEN"):
        build_settings({"target": "local", "events_from": "http://127.0.0.1:8000"}, environ={})


def test_rfc3339_is_utc_to_the_second():
    assert rfc3339(ORIGIN + 61.7) == "2024-10-01T00:01:01Z"
