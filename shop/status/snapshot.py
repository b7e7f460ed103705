"""The status document, cached for a few seconds and kept for when the database is down.

The status page is read most exactly when things break: thousands of customers reloading it
must not add to the database's trouble, and it must still answer when the database does not.
Each process keeps the last document per scope; past `FRESH_S` it is reloaded, and when the
reload fails on an unreachable database the last one is served, marked `stale`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy.exc
from flask import current_app

log = logging.getLogger(__name__)

FRESH_S = 5.0
DATABASE_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.DisconnectionError)


class SnapshotCache:
    def __init__(self, fresh_s: float = FRESH_S, max_entries: int = 1000):
        self.fresh_s = fresh_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            cached = self._entries.get(key)
        if cached and now - cached[0] < self.fresh_s:
            return cached[1]
        try:
            document = load()
        except DATABASE_DOWN as problem:
            if cached is None:
                raise
            log.warning("status served from cache, the database is unreachable: %s", problem)
            return {**cached[1], "stale": True}
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # many shops: start over rather than grow without end
            self._entries[key] = (now, document)
        return document

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


def current_cache() -> SnapshotCache:
    """This app's cache; `STATUS_FRESH_S` in the app's config overrides how long it is fresh."""
    cache = current_app.extensions.get("status_snapshots")
    if cache is None:
        cache = SnapshotCache(current_app.config.get("STATUS_FRESH_S", FRESH_S))
        current_app.extensions["status_snapshots"] = cache
    return cache
