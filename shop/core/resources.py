"""The per-process resources every request uses: settings, database and Redis."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from shop.core.db import Database
from shop.core.settings import Settings
from shop.payments.interface import Gateway


@dataclass
class Resources:
    settings: Settings
    database: Database
    redis: redis.Redis
    gateway: Gateway


def current() -> Resources:
    """The resources of the app serving this request."""
    return current_app.extensions["peakshop"]
