"""The gate's settings: the app's own (`shop.core.settings`) plus a few of its own, read once
from the environment; a malformed one stops start-up with one line naming it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shop.core.settings import (
    ConfigError,
    Settings,
    _bind,
    _boolean,
    positive_int,
    positive_number,
    read_environment,
)

# The private address gunicorn binds behind the gate when none is given.
DEFAULT_UPSTREAM = "127.0.0.1:8001"

ENVIRONMENT = {
    "PEAKSHOP_GATE": ("enabled", _boolean),
    "PEAKSHOP_GATE_UPSTREAM": ("upstream", _bind),
    "PEAKSHOP_GATE_UPSTREAM_CONCURRENCY": ("upstream_concurrency", positive_int),
    "PEAKSHOP_GATE_UPSTREAM_TIMEOUT_S": ("upstream_timeout_s", positive_number),
    "PEAKSHOP_GATE_PROCESSES": ("processes", positive_int),
}


@dataclass(frozen=True)
class GateSettings:
    app: Settings                 # the storefront's settings: bind, Redis, secret, room
    enabled: bool = False         # `peakshop serve` runs the gate in front of gunicorn
    upstream: str = DEFAULT_UPSTREAM
    # Requests in gunicorn at once; the rest wait at the gate. Twice the workers: each
    # worker has the next request ready as it finishes one, and the accept queue stays short.
    upstream_concurrency: int = 4
    # gunicorn's own timeout is 30 s: a request not answered by then is not coming.
    upstream_timeout_s: float = 30.0
    # Gate processes sharing the public port (SO_REUSEPORT), each with its share of the
    # slots: one asyncio process answers a few hundred arrivals a second on one core.
    processes: int = 1

    @property
    def upstream_url(self) -> str:
        return f"http://{self.upstream}"

    def slot_share(self, slots: int) -> int:
        """One gate process's share of `slots` requests in gunicorn at once (at least 1)."""
        return max(1, round(slots / self.processes))


def default_concurrency(environ: Mapping[str, str]) -> int:
    """Twice the requests gunicorn works on at once (workers x threads, its settings)."""
    try:
        workers = int(environ.get("PEAKSHOP_WEB_WORKERS") or 2)
        threads = int(environ.get("PEAKSHOP_WEB_THREADS") or 1)
    except ValueError:
        return 4   # gunicorn itself refuses to start and names the variable
    return max(1, 2 * workers * threads)


def load_gate_settings(app: Settings, environ: Mapping[str, str] | None = None) -> GateSettings:
    """The gate's settings on top of the app's; ConfigError names a malformed variable."""
    environ = os.environ if environ is None else environ
    values = {"upstream_concurrency": default_concurrency(environ),
              **read_environment(environ, ENVIRONMENT)}
    return GateSettings(app=app, **values)


def check_upstream(settings: GateSettings) -> GateSettings:
    """The gate must not proxy to itself; ConfigError says what to change."""
    if settings.upstream == settings.app.bind:
        raise ConfigError(f"PEAKSHOP_GATE_UPSTREAM is the gate's own address "
                          f"{settings.app.bind!r} (PEAKSHOP_BIND): give gunicorn another "
                          "port, e.g. 127.0.0.1:8001")
    return settings
