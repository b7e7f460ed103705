"""What a storefront pod's gunicorn master does once a second for the scaler on Kubernetes.

The scaler cannot read a pod's listen socket (it lives in the pod's network namespace), so
the master publishes its listen backlog to Redis (`common.pushed_backlog`) and the scaler
hears arrivals outrun the ready pods within about two seconds, as it does locally by
reading the socket itself. A daemon thread started from gunicorn's `when_ready`; on with
PEAKSHOP_PUBLISH_BACKLOG=true. It never stops the storefront: a Redis that cannot be
reached is logged and tried again the next second.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from common import pushed_backlog
from common.listen_queue import bind_port, listen_backlog

log = logging.getLogger("peakshop.pod_agent")

_QUIET_S = 60.0   # a lasting failure is logged once a minute, not every second


def pod_name() -> str:
    """This pod's name: Kubernetes sets HOSTNAME to it."""
    return os.environ.get("HOSTNAME") or socket.gethostname()


def shoppers_port(binds: list[str]) -> int | None:
    """The TCP port shoppers reach gunicorn on (its first TCP bind); None for unix sockets."""
    for bind in binds:
        if bind.startswith(("unix:", "fd://")):
            continue
        try:
            return bind_port(bind)
        except ValueError:
            continue
    return None


class PodAgent:
    """Publishes the listen backlog every `every_s`; `tick` is one round of it."""

    def __init__(self, publish: Callable[[int], None], backlog: Callable[[], int | None],
                 every_s: float = pushed_backlog.PUBLISH_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.publish = publish
        self.backlog = backlog
        self.every_s = every_s
        self.clock = clock
        self._complained_at: float | None = None

    def tick(self) -> None:
        """Read and publish once; failures are logged (quietly when they last), never raised."""
        waiting = self.backlog()
        if waiting is None:      # not listening (yet, or any more): nothing true to say
            return
        try:
            self.publish(waiting)
        except Exception as error:  # noqa: BLE001 - the storefront must serve on regardless
            now = self.clock()
            if self._complained_at is None or now - self._complained_at >= _QUIET_S:
                self._complained_at = now
                log.warning("listen backlog not published to Redis (the scaler hears no push "
                            "from this pod until it is): %s", error)
            return
        if self._complained_at is not None:
            self._complained_at = None
            log.info("listen backlog published to Redis again")

    def run(self, stop: threading.Event) -> None:
        """Tick every `every_s` until `stop` is set."""
        while not stop.wait(self.every_s):
            self.tick()


def start_pod_agent(binds: list[str], redis_url: str,
                    stop: threading.Event | None = None) -> PodAgent | None:
    """Start publishing this pod's listen backlog from a daemon thread; None (and a log
    line) when gunicorn listens on no TCP port."""
    from common.redis_url import client_from_url

    port = shoppers_port(binds)
    if port is None:
        log.warning("listen backlog not published: gunicorn binds no TCP port (%s)", binds)
        return None
    client = client_from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    pod = pod_name()
    agent = PodAgent(lambda waiting: pushed_backlog.publish(client, pod, waiting),
                     lambda: listen_backlog(port))
    threading.Thread(target=agent.run, args=(stop or threading.Event(),), daemon=True,
                     name="pod-agent").start()
    log.info("publishing the listen backlog of port %d as pod %s every %.0f s", port, pod,
             agent.every_s)
    return agent
