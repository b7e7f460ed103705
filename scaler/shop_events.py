"""Announced events from the shop itself: `GET {shop}/api/v1/ops/events`, and the scaler's plan
for each one recorded back with `PUT {shop}/api/v1/ops/events/{id}/plan`.

The interface (the shop's operations API, `Authorization: Bearer $PEAKSHOP_OPS_TOKEN`)::

    GET /api/v1/ops/events?from=RFC3339&to=RFC3339
      -> {"items": [{"id", "shop", "name", "starts_at", "duration_min",
                     "expected_peak_rps", "planned_capacity"}]}
    PUT /api/v1/ops/events/{id}/plan  {"web_replicas": n, "ready_by": RFC3339}

The poller asks every `every_s`; a failed poll keeps the last events it knew (a shop that is
down must not make the scaler forget a launch). `expected_peak_rps` is the crowd an event
adds on top of the forecast; overlapping events add up. The simulator reads the same JSON
(`--events FILE.json`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import requests

from scaler.events import Event, EventSchedule, EventsFileError
from scaler.model import MAX_RATE

log = logging.getLogger("peakshop.scaler.events")

EVENTS_PATH = "/api/v1/ops/events"
# Events are asked for from a day back (an event under way still counts) to this far ahead.
LOOKAHEAD_S = 3 * 86400
LOOKBACK_S = 86400


def rfc3339(epoch_s: float) -> str:
    """Epoch seconds as RFC 3339 in UTC, to the second."""
    moment = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _epoch(value: Any, where: str) -> float:
    if not isinstance(value, str):
        raise EventsFileError(f"{where}: starts_at must be an RFC 3339 string, got {value!r}")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventsFileError(f"{where}: starts_at {value!r} is not RFC 3339 "
                              "(e.g. 2024-11-29T08:00:00+01:00)") from None
    if moment.tzinfo is None:
        raise EventsFileError(f"{where}: starts_at {value!r} has no offset: add Z or +01:00")
    return moment.timestamp()


def _number(item: dict, key: str, where: str, low: float, high: float) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventsFileError(f"{where}: {key} must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise EventsFileError(f"{where}: {key} must be from {low:g} to {high:g}, got {value}")
    return float(value)


def events_from_items(items: Any, origin_s: float, source: str) -> list[Event]:
    """The shop's event items as Events on the season clock (minute 0 at `origin_s`)."""
    if not isinstance(items, list):
        raise EventsFileError(f"{source}: expected {{\"items\": [...]}}")
    events = []
    for index, item in enumerate(items):
        where = f"{source} item {index}"
        if not isinstance(item, dict):
            raise EventsFileError(f"{where}: expected an object")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise EventsFileError(f"{where}: the event needs a name")
        start_s = _epoch(item.get("starts_at"), where) - origin_s
        duration_s = _number(item, "duration_min", where, 1e-3, 366 * 24 * 60) * 60
        extra_rps = _number(item, "expected_peak_rps", where, 0, MAX_RATE)
        event_id = item.get("id")
        events.append(Event(start_s, name.strip(), 0.0, duration_s, extra_rps=extra_rps,
                            id=None if event_id is None else str(event_id)))
    return events


def parse_shop_events(text: str, origin_s: float, source: str = "events") -> list[Event]:
    """Parse the events API's JSON body (or a file holding it)."""
    try:
        body = json.loads(text)
    except ValueError as error:
        raise EventsFileError(f"{source} is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise EventsFileError(f"{source}: expected {{\"items\": [...]}}")
    return events_from_items(body.get("items"), origin_s, source)


class ShopEventsClient:
    """The scaler's side of the shop's events API."""

    def __init__(self, base_url: str, token: str, *, origin_s: float = 0.0,
                 timeout_s: float = 5.0, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.origin_s = origin_s
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def fetch(self, from_epoch_s: float, to_epoch_s: float) -> list[Event]:
        """Events running or starting in [from, to]; EventsFileError (naming why) on failure."""
        url = self.base_url + EVENTS_PATH
        try:
            response = self.session.get(url, params={"from": rfc3339(from_epoch_s),
                                                     "to": rfc3339(to_epoch_s)},
                                        timeout=self.timeout_s)
        except requests.RequestException as error:
            raise EventsFileError(f"cannot reach the shop's events at {url}: {error}") from None
        if response.status_code != 200:
            hint = (" (check PEAKSHOP_OPS_TOKEN)" if response.status_code in (401, 403) else "")
            raise EventsFileError(f"the shop's events at {url} answered "
                                  f"{response.status_code}{hint}")
        return parse_shop_events(response.text, self.origin_s, url)

    def record_plan(self, event_id: str, web_replicas: int, ready_by_epoch_s: float) -> None:
        """Tell the shop what the scaler plans for one event; EventsFileError on failure."""
        url = f"{self.base_url}{EVENTS_PATH}/{requests.utils.quote(event_id, safe='')}/plan"
        try:
            response = self.session.put(url, json={"web_replicas": int(web_replicas),
                                                   "ready_by": rfc3339(ready_by_epoch_s)},
                                        timeout=self.timeout_s)
        except requests.RequestException as error:
            raise EventsFileError(f"cannot record the plan at {url}: {error}") from None
        if response.status_code not in (200, 201, 204):
            raise EventsFileError(f"recording the plan at {url} answered "
                                  f"{response.status_code}")


Plan = tuple[str, int, float]   # (event id, web replicas, ready by: epoch seconds)


class ShopEventsPoller:
    """Polls the shop every `every_s` in its own thread; keeps the last events it knew and
    records each event's plan once it changes."""

    def __init__(self, client: ShopEventsClient, every_s: float = 60.0,
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self.client = client
        self.every_s = every_s
        self.clock = clock or time.time
        self._lock = threading.Lock()
        self._schedule = EventSchedule()
        self.version = 0                 # grows with every change of the known events
        self.failures = 0
        self._wanted: dict[str, tuple[int, float]] = {}
        self._recorded: dict[str, tuple[int, float]] = {}

    def schedule(self) -> tuple[int, EventSchedule]:
        """The last events known, and their version."""
        with self._lock:
            return self.version, self._schedule

    def poll_once(self) -> bool:
        """Ask the shop once and record wanted plans; False (last events kept) on failure."""
        now = self.clock()
        try:
            events = self.client.fetch(now - LOOKBACK_S, now + LOOKAHEAD_S)
        except EventsFileError as error:
            self.failures += 1
            log.warning("keeping the %d events known: %s", len(self._schedule), error)
            return False
        with self._lock:
            if tuple(events) != self._schedule.events:
                self._schedule = EventSchedule(events)
                self.version += 1
        self.record_plans()
        return True

    def want_plans(self, plans: Sequence[Plan]) -> None:
        """The plans the policy made; recorded on the next poll when they changed."""
        with self._lock:
            for event_id, replicas, ready_by in plans:
                self._wanted[event_id] = (replicas, ready_by)

    def record_plans(self) -> None:
        """PUT every plan that differs from what the shop was last told."""
        with self._lock:
            changed = {key: plan for key, plan in self._wanted.items()
                       if self._recorded.get(key) != plan}
        for event_id, (replicas, ready_by) in changed.items():
            try:
                self.client.record_plan(event_id, replicas, ready_by)
            except EventsFileError as error:
                log.warning("plan for event %s not recorded yet: %s", event_id, error)
                continue
            with self._lock:
                self._recorded[event_id] = (replicas, ready_by)

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set."""
        while not stop.is_set():
            self.poll_once()
            stop.wait(self.every_s)
