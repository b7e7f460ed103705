"""Real servers for the scaler's live tests: Redis, a Kubernetes API stand-in, gunicorn.

Import the fixtures you use into a test module (`from tests.scaler.live_fixtures import ...`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server", path="/usr/bin") or shutil.which("redis-server")


def wait_until(condition: Callable[[], object], timeout_s: float = 60.0,
               interval_s: float = 0.1, what: str = "condition") -> object:
    """Poll `condition` until it returns something truthy; fail after a generous deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(interval_s)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Redis -------------------------------------------------------------------------------

@pytest.fixture
def redis_stream_client(tmp_path) -> Iterator[redis.Redis]:
    """A client of a private redis-server (7.x from /usr/bin) listening on a unix socket."""
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed")
    socket_path = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", "0", "--unixsocket", str(socket_path), "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=5)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(answers, 30, what="redis-server start")
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


# --- Kubernetes API stand-in ---------------------------------------------------------------

class KubernetesStandIn:
    """kmock's KubernetesEmulator on a loopback port, served from its own event-loop thread.

    kmock is asyncio-based and the official `kubernetes` client is synchronous, so the
    server gets a thread of its own and the test talks to it over real HTTP.
    """

    def __init__(self) -> None:
        import kmock

        self._kmock = kmock
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.handler: kmock.KubernetesEmulator | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        kmock = self._kmock
        self._stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as handler, kmock.Server(handler) as server:
            self.handler = handler
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def start(self) -> KubernetesStandIn:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("kmock did not start")
        return self

    def call(self, function: Callable[[], object]) -> object:
        """Run `function` on the server's loop thread (to touch its objects safely)."""
        async def invoke():
            return function()
        return asyncio.run_coroutine_threadsafe(invoke(), self.loop).result(30)

    def put_object(self, resource: str, namespace: str | None, name: str, body: dict) -> None:
        """Store an object as if created earlier (what a cluster would already hold)."""
        def store():
            self.handler.objects[resource, namespace, name] = body
        self.call(store)

    def patch_object(self, resource: str, namespace: str | None, name: str,
                     changes: dict) -> None:
        """Change a stored object the way a controller in the cluster would."""
        self.call(lambda: self.handler.objects[resource, namespace, name].patch(changes))

    def get_object(self, resource: str, namespace: str | None, name: str) -> dict:
        """The current raw state of a stored object."""
        return self.call(lambda: dict(self.handler.objects[resource, namespace, name].raw))

    def objects_of(self, resource: str) -> list[dict]:
        """Raw states of every live object of one resource."""
        def collect():
            return [dict(obj.raw) for (res, _, _), obj in self.handler.objects.items()
                    if res == self._kmock.resource(resource) and not obj.deleted]
        return self.call(collect)

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.loop.close()


@pytest.fixture
def kubernetes_api() -> Iterator[KubernetesStandIn]:
    """A Kubernetes API stand-in (kmock) at `.url`; no real cluster can run here."""
    stand_in = KubernetesStandIn().start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def kubernetes_client(url: str):
    """An official-client ApiClient pointed at `url` (plain HTTP, no credentials)."""
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = url
    return client.ApiClient(configuration)


def deployment(name: str, namespace: str, replicas: int, ready: int) -> dict:
    """A Deployment as the API server would hold it (the fields the scaler reads)."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"replicas": replicas,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": name, "image": "peakshop:1"}]}}},
        "status": {"replicas": replicas, "readyReplicas": ready,
                   "availableReplicas": ready, "selector": f"app={name}"},
    }


# --- gunicorn ------------------------------------------------------------------------------

# A storefront stand-in: the shop's metric names, multiprocess exposition like the real one,
# and a /work route that holds a sync worker for a while, so more load needs more workers.
WSGI_APP = textwrap.dedent('''
    import time

    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    REQUESTS = Counter("peakshop_http_requests_total", "Requests",
                       ["method", "route", "status"])
    LATENCY = Histogram("peakshop_http_request_duration_seconds", "Latency",
                        ["method", "route"])


    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/metrics":
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            body = generate_latest(registry)
            REQUESTS.labels("GET", "/metrics", "200").inc()
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4")])
            return [body]
        started = time.perf_counter()
        if path == "/work":
            time.sleep(0.05)
        REQUESTS.labels(environ["REQUEST_METHOD"], path, "200").inc()
        LATENCY.labels(environ["REQUEST_METHOD"], path).observe(time.perf_counter() - started)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
''')

GUNICORN_CONF = textwrap.dedent('''
    from prometheus_client import multiprocess


    def child_exit(server, worker):
        multiprocess.mark_process_dead(worker.pid)
''')


class GunicornProcess:
    """A real gunicorn master serving `WSGI_APP` on a loopback port, with a pidfile."""

    def __init__(self, folder: Path, workers: int = 1) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pidfile = folder / "gunicorn.pid"
        metrics_dir = folder / "prometheus"
        metrics_dir.mkdir()
        (folder / "storefront_stand_in.py").write_text(WSGI_APP)
        (folder / "gunicorn_test.conf.py").write_text(GUNICORN_CONF)
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
               "PYTHONPATH": str(folder)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--pid", str(self.pidfile),
             "--config", str(folder / "gunicorn_test.conf.py"),
             "--graceful-timeout", "5", "--log-level", "warning",
             "storefront_stand_in:app"],
            cwd=folder, env=env)

    def wait_ready(self) -> GunicornProcess:
        import requests

        def answers() -> bool:
            try:
                return requests.get(f"{self.url}/ping", timeout=2).ok
            except requests.RequestException:
                return False

        wait_until(answers, 60, what="gunicorn start")
        wait_until(self.pidfile.exists, 30, what="gunicorn pidfile")
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def gunicorn_server(tmp_path) -> Iterator[GunicornProcess]:
    """A running gunicorn with one sync worker, its master's pid in `.pidfile`."""
    server = GunicornProcess(tmp_path).wait_ready()
    try:
        yield server
    finally:
        server.stop()


# An order worker stand-in: runs until SIGTERM, then exits cleanly, like `peakshop worker`.
ORDER_WORKER = textwrap.dedent('''
    import os
    import signal
    import sys
    import time
    from pathlib import Path

    stopping = False


    def stop(signum, frame):
        global stopping
        stopping = True


    signal.signal(signal.SIGTERM, stop)
    # Tell the test this worker is past start-up and will now stop cleanly on SIGTERM.
    Path(__file__).with_name(f"ready-{os.getpid()}").touch()
    while not stopping:
        time.sleep(0.05)
    sys.exit(0)
''')


def order_worker_ready(folder: Path, pid: int) -> bool:
    """Whether the order-worker stand-in `pid` has installed its SIGTERM handler."""
    return (folder / f"ready-{pid}").exists()


def order_worker_command(folder: Path) -> list[str]:
    """The command line of an order-worker stand-in that exits cleanly on SIGTERM."""
    script = folder / "order_worker_stand_in.py"
    script.write_text(ORDER_WORKER)
    return [sys.executable, str(script)]
