"""What a storefront pod's gunicorn master does once a second for the scaler on Kubernetes.

- Publish its listen backlog and busy workers (PEAKSHOP_PUBLISH_BACKLOG=true). The scaler
  cannot read a pod's listen socket (it lives in the pod's network namespace), so the master
  publishes it to Redis (`common.pushed_backlog`) and the scaler hears arrivals outrun the
  ready pods within about two seconds, as it does locally by reading the socket itself.
  Beside it goes the mean number of busy workers over the last second, sampled every 50 ms
  from the workers' own `peakshop_http_requests_in_flight` gauge files (which each worker
  writes anyway, a memory-mapped file per process): a pod filling up is heard before
  anything queues, with no Redis round trip per request.
- Follow its CPU limit (PEAKSHOP_FOLLOW_CPU_LIMIT=true). When the scaler resizes the pod in
  place (more CPU, no restart), the cgroup's `cpu.max` changes; the master turns the added
  CPU into workers by sending itself TTIN (and TTOU when the CPU is taken back).

One daemon thread started from gunicorn's `when_ready`. It never stops the storefront: a
failure is logged (once a minute while it lasts) and tried again the next second. Each tick runs
under the fork guard (`shop.core.fork_guard`): the master forks workers while it runs.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable

from common import pushed_backlog
from common.listen_queue import bind_port, listen_backlog
from shop.core.fork_guard import fork_guard

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


# Busy workers are sampled this often and published as their mean over the second: a
# single sample of a few workers says little (each is busy or not at that instant).
BUSY_SAMPLE_EVERY_S = 0.05
IN_FLIGHT_GAUGE = "peakshop_http_requests_in_flight"


class BusyWorkers:
    """Busy workers averaged between publications: `sample` every BUSY_SAMPLE_EVERY_S (one
    thread), `take` once a second (another)."""

    def __init__(self, read: Callable[[], tuple[float, int] | None]) -> None:
        self.read = read      # (busy workers now, workers) or None when unknown
        self._lock = threading.Lock()
        self._busy_sum, self._samples, self._workers = 0.0, 0, 0

    def sample(self) -> None:
        reading = self.read()
        if reading is None:
            return
        busy, workers = reading
        with self._lock:
            self._busy_sum += min(max(busy, 0.0), workers)
            self._samples += 1
            self._workers = workers

    def take(self) -> tuple[float, int] | None:
        """The mean busy workers since the last take, and the workers now; None without a
        sample since (nothing true to say: the scaler then reads the backlog alone)."""
        with self._lock:
            if not self._samples or self._workers < 1:
                return None
            taken = (self._busy_sum / self._samples, self._workers)
            self._busy_sum, self._samples = 0.0, 0
            return taken


def in_flight_of(directory: str, pids: list[int]) -> float:
    """Requests the workers `pids` are serving, from their in-flight gauge files in the
    multiprocess directory (a worker without a file yet has served nothing: 0)."""
    from prometheus_client.mmap_dict import MmapedDict

    busy = 0.0
    for pid in pids:
        try:
            values = list(MmapedDict.read_all_values_from_file(
                os.path.join(directory, f"gauge_livesum_{pid}.db")))
        # Gone meanwhile, caught mid-write, or created and not yet sized (empty: struct.error).
        except (OSError, RuntimeError, struct.error):
            continue
        for key, value, _stamp, _pos in values:
            if key.startswith('["' + IN_FLIGHT_GAUGE + '"') and json.loads(key)[0] == (
                    IN_FLIGHT_GAUGE):
                busy += value
    return busy


def gunicorn_busy_workers(server, directory: str) -> Callable[[], tuple[float, int] | None]:
    """Reads (busy workers, workers) of the gunicorn master `server` (its Arbiter): a worker
    with threads counts as that many workers."""
    threads = max(1, int(getattr(server.cfg, "threads", 1) or 1))

    def read() -> tuple[float, int] | None:
        pids = list(server.WORKERS)
        if not pids:
            return None
        return in_flight_of(directory, pids) / threads, len(pids)

    return read


class PodAgent:
    """Publishes the listen backlog (and busy workers); `tick` is one round (once a second)."""

    def __init__(self, publish: Callable[..., None], backlog: Callable[[], int | None],
                 clock: Callable[[], float] = time.monotonic,
                 busy: BusyWorkers | None = None) -> None:
        self.publish = publish
        self.backlog = backlog
        self.clock = clock
        self.busy = busy
        self._complained_at: float | None = None

    def tick(self) -> None:
        """Read and publish once; failures are logged (quietly when they last), never raised."""
        waiting = self.backlog()
        load = self.busy.take() if self.busy is not None else None
        if waiting is None:      # not listening (yet, or any more): nothing true to say
            return
        try:
            if load is None:
                self.publish(waiting)
            else:
                self.publish(waiting, *load)
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


def cpu_limit_cores(cpu_max: str) -> float | None:
    """Cores a cgroup v2 `cpu.max` ("<quota> <period>", microseconds) allows; None when
    unlimited ("max <period>") or not of that form."""
    parts = cpu_max.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def workers_for_cpu(cores: float, start_cores: float, start_workers: int) -> int:
    """Workers for `cores` of CPU, in the proportion the pod started with (its template's
    workers for its template's CPU); at least one. Pure."""
    return max(1, round(start_workers * cores / start_cores))


class CpuFollower:
    """Keeps gunicorn's worker count in proportion to the pod's CPU limit, by TTIN/TTOU."""

    # gunicorn queues at most 5 signals; the rest of a large step follows in the next ticks.
    MOST_SIGNALS_PER_TICK = 3

    def __init__(self, read_limit: Callable[[], float | None], workers: Callable[[], int],
                 signal_master: Callable[[int], None], start_cores: float,
                 start_workers: int) -> None:
        self.read_limit = read_limit
        self.workers = workers
        self.signal_master = signal_master
        self.start_cores = start_cores
        self.start_workers = start_workers

    def tick(self) -> None:
        """Read the limit once; ask gunicorn for the workers it pays for."""
        cores = self.read_limit()
        if cores is None:
            return
        difference = (workers_for_cpu(cores, self.start_cores, self.start_workers)
                      - self.workers())
        step = signal.SIGTTIN if difference > 0 else signal.SIGTTOU
        for _ in range(min(abs(difference), self.MOST_SIGNALS_PER_TICK)):
            self.signal_master(step)


def read_cpu_limit(path: str) -> float | None:
    """The cores the cgroup file at `path` allows; None when unlimited or unreadable."""
    try:
        with open(path) as cpu_max:
            return cpu_limit_cores(cpu_max.read())
    except OSError:
        return None


class Ticks:
    """Calls each tick every `every_s`; one failing tick is logged, never the end."""

    def __init__(self, ticks: list[Callable[[], None]],
                 every_s: float = pushed_backlog.PUBLISH_EVERY_S) -> None:
        self.ticks = ticks
        self.every_s = every_s
        self._complained_at: float | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.every_s):
            for tick in self.ticks:
                try:
                    # gunicorn's master forks workers meanwhile: never in the middle of a
                    # tick, since a worker inherits every lock as it stands at the fork.
                    with fork_guard.held():
                        tick()
                except Exception:  # noqa: BLE001 - the storefront must serve on regardless
                    now = time.monotonic()
                    if self._complained_at is None or now - self._complained_at >= _QUIET_S:
                        self._complained_at = now
                        log.exception("pod agent tick failed (tried again every second)")


def start_pod_agent(server, settings, stop: threading.Event | None = None) -> Ticks | None:
    """Start what `settings` asks of this gunicorn master (`server`, its Arbiter) in one
    daemon thread; None when nothing is asked or nothing can be done."""
    ticks: list[Callable[[], None]] = []
    stop = stop or threading.Event()
    if settings.publish_backlog:
        agent = backlog_publisher(list(server.cfg.bind), settings.redis_url,
                                  busy_workers_of(server))
        if agent is not None:
            ticks.append(agent.tick)
            if agent.busy is not None:
                threading.Thread(target=Ticks([agent.busy.sample], BUSY_SAMPLE_EVERY_S).run,
                                 args=(stop,), daemon=True, name="pod-agent-busy").start()
    if settings.follow_cpu_limit:
        follower = cpu_follower(server, settings.cgroup_cpu_max)
        if follower is not None:
            ticks.append(follower.tick)
    if not ticks:
        return None
    loop = Ticks(ticks)
    threading.Thread(target=loop.run, args=(stop,), daemon=True, name="pod-agent").start()
    return loop


def busy_workers_of(server) -> BusyWorkers | None:
    """Sampling the busy workers of gunicorn's master `server`; None (and a log line)
    without the workers' multiprocess metrics directory to read them from."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        log.warning("busy workers not published: PROMETHEUS_MULTIPROC_DIR is not set (the "
                    "listen backlog alone is)")
        return None
    return BusyWorkers(gunicorn_busy_workers(server, directory))


def backlog_publisher(binds: list[str], redis_url: str,
                      busy: BusyWorkers | None = None) -> PodAgent | None:
    """Publishing this pod's listen backlog (and busy workers); None (and a log line) when
    gunicorn listens on no TCP port."""
    from common.redis_url import client_from_url

    port = shoppers_port(binds)
    if port is None:
        log.warning("listen backlog not published: gunicorn binds no TCP port (%s)", binds)
        return None
    client = client_from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    pod = pod_name()
    log.info("publishing the listen backlog of port %d as pod %s every second", port, pod)
    return PodAgent(lambda waiting, *load: pushed_backlog.publish(client, pod, waiting, *load),
                    lambda: listen_backlog(port), busy=busy)


def cpu_follower(server, path: str) -> CpuFollower | None:
    """Following the CPU limit at `path` from the limit and workers the pod starts with; None
    (and a log line) when the pod has no CPU limit to follow."""
    start_cores = read_cpu_limit(path)
    if start_cores is None:
        log.warning("not following the CPU limit: %s is unreadable or unlimited", path)
        return None
    master = os.getpid()   # this thread runs in gunicorn's master
    return CpuFollower(lambda: read_cpu_limit(path), lambda: server.num_workers,
                       lambda signum: os.kill(master, signum), start_cores,
                       server.num_workers)
