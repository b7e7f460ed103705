"""The per-process resources every request uses: settings, database and Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from flask import current_app

from shop.core.db import Database
from shop.core.settings import Settings


@dataclass
class Resources:
    settings: Settings
    database: Database
    redis: redis.Redis
    # A `shop.payments.interface.Gateway`; core names no domain, the app factory wires it.
    gateway: Any


def current() -> Resources:
    """The resources of the app serving this request."""
    return current_app.extensions["peakshop"]
