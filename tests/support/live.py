"""The storefront as production runs it: `peakshop serve` (gunicorn) in a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.servers import RedisServer, free_port


@dataclass
class LiveServer:
    process: subprocess.Popen
    url: str
    pidfile: str

    @classmethod
    def start(cls, *, database_url: str, redis_url: str, instance_path: str,
              workers: int = 2, threads: int = 1, extra_env: dict | None = None) -> LiveServer:
        port = free_port()
        pidfile = os.path.join(instance_path, "gunicorn.pid")
        os.makedirs(instance_path, exist_ok=True)
        env = {**os.environ,
               "PEAKSHOP_DATABASE_URL": database_url, "PEAKSHOP_REDIS_URL": redis_url,
               "PEAKSHOP_SECRET_KEY": "live-test-secret",
               "PEAKSHOP_INSTANCE_PATH": instance_path,
               "PEAKSHOP_BIND": f"127.0.0.1:{port}", "PEAKSHOP_PIDFILE": pidfile,
               "PEAKSHOP_WEB_WORKERS": str(workers), "PEAKSHOP_WEB_THREADS": str(threads),
               "PROMETHEUS_MULTIPROC_DIR": os.path.join(instance_path, "metrics"),
               **(extra_env or {})}
        process = subprocess.Popen([sys.executable, "-m", "peakshop.cli", "serve"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        server = cls(process, f"http://127.0.0.1:{port}", pidfile)
        server.wait_ready()
        return server

    def wait_ready(self, deadline_s: float = 60.0) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("peakshop serve exited: "
                                   + self.process.stderr.read().decode()[-2000:])
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"peakshop serve not ready at {self.url} after {deadline_s} s")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stderr.close()
        return self.process.returncode


@contextlib.contextmanager
def on_sqlite(directory: Path, **extra_env: str) -> Iterator[LiveServer]:
    """`peakshop serve` (two sync workers) on a fresh, migrated SQLite file in `directory`
    and a Redis of its own, with `extra_env` set; both stopped after."""
    from shop.core.migrate import upgrade

    redis_server = RedisServer.start()
    try:
        database_url = f"sqlite:///{directory / 'peakshop.sqlite3'}"
        upgrade(database_url)
        live = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                                instance_path=str(directory / "instance"), workers=2,
                                extra_env=extra_env)
        try:
            yield live
        finally:
            live.stop()
    finally:
        redis_server.stop()
