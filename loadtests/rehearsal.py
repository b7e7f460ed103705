"""One rehearsal run: its child processes, the per-second samples, the drain and the report.

The stack is a fresh instance folder (SQLite database, embedded Redis unless one is given,
gunicorn's pidfile), `peakshop serve` with one gunicorn worker, either one `peakshop worker`
or `peakshop scaler run --target local` (which then owns gunicorn's worker count and the
order-worker pool), and Locust replaying the trace headless.
"""

from __future__ import annotations

import datetime
import os
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click
import redis
import requests

from common.readiness import READY_DEADLINE_S, wait_ready
from common.redis_url import client_from_url
from loadtests import orders_check, processes, report
from loadtests.cpu_limit import CpuCgroup
from loadtests.processes import Child
from loadtests.report import SloSettings
from loadtests.sampler import ServerLatency, StackProbe, StackSample, TimelineReader
from loadtests.seed import SeedError, seed_demo_shop
from loadtests.trace import Replay, ReplaySettings
from loadtests.webhook_receiver import EVENTS, WebhookReceiver
from scaler.events import add_event, load_events
from scaler.settings import season_start

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
PROGRESS_EVERY_S = 5
STOP_TIMEOUT_S = 40        # gunicorn's graceful timeout is 25 s
LOCUST_STOP_TIMEOUT_S = 30  # a ramp-down lets running visits finish
LOAD_STARTS_AFTER_S = 3     # from starting the scaler to Locust's first second
# The order worker evaluates the SLO burn rate this often during a rehearsal (30 s in
# production): a rehearsal's incident opens within seconds of the rule firing.
BURN_RATE_INTERVAL_S = 5


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop everything and write what there is."""


@dataclass(frozen=True)
class RehearsalSettings:
    """Everything a rehearsal needs, checked, from the flags and the environment."""

    replay_settings: ReplaySettings
    scaler: bool
    report_dir: Path
    duration_s: float | None
    slo: SloSettings
    drain_timeout_s: float
    pacing_s: float
    redis_url: str | None
    events_file: Path | None = None   # announced events, on the trace's clock
    waiting_room: str = "off"         # the demo shop's waiting room: off, auto or on
    admit_per_s: float | None = None  # its rate in mode `on`
    gate: bool = False                # the edge gate in front of gunicorn (serve --gate)
    web_cpu_limit: float | None = None  # cores of gunicorn's CPU cgroup (--web-cpu-limit)
    loadgen_cpus: frozenset[int] | None = None  # Locust's CPUs (--loadgen-cpus)
    server_cpus: frozenset[int] | None = None   # every other process's: the rest
    # (start, seconds) on the load's clock: the dummy payment gateway down (--payments-outage)
    payments_outage: tuple[float, float] | None = None


def _peakshop(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "peakshop.cli", *arguments]


def shift_events(source: Path, target: Path, compress: float, trace_starts_s: float) -> None:
    """Write `source`'s events to `target` in seconds, played `compress` times faster and
    starting `trace_starts_s` into the season."""
    for event in load_events(source).events:
        add_event(target, round(trace_starts_s + event.start_s / compress), event.name,
                  event.extra_peaks, max(1, round(event.duration_s / compress)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Rehearsal:
    """One run: the child processes, the samples, and the report at the end."""

    def __init__(self, settings: RehearsalSettings, replay: Replay,
                 cgroup: CpuCgroup | None = None) -> None:
        self.settings = settings
        self.cgroup = cgroup
        self.replay = replay
        self.report_dir = settings.report_dir
        self.instance = Path(tempfile.mkdtemp(prefix="peakshop-rehearsal-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pidfile = self.instance / "gunicorn.pid"
        self.children: dict[str, Child] = {}
        self.samples: list[StackSample] = []
        self.timeline = TimelineReader(self.report_dir / "locust-timeline.jsonl")
        self.orders_file = self.report_dir / "orders.jsonl"
        self.interrupted = False
        self.probe: StackProbe | None = None
        self.embedded_redis_url: str | None = None
        self.locust_exit_code: int | None = None
        self.server_latency: ServerLatency | None = None
        self.room = RoomPoller(self.url)
        self.gunicorn_cpu_s: float | None = None   # from ready to the end (the limit's run)
        self._gunicorn_cpu_at_ready = 0.0
        self._affinity_before: set[int] | None = None
        self._placement: dict | None = None
        # The demo shop's merchant tools: every outage webhook, verified as they would.
        self.receiver = WebhookReceiver()
        self.outage_started_at: float | None = None   # epoch s (--payments-outage)
        # A report folder used before: its timeline and orders must not mix with this run's.
        for stale in ("locust-timeline.jsonl", "orders.jsonl", "serve.log", "worker.log",
                      "scaler.log", "locust.log"):
            (self.report_dir / stale).unlink(missing_ok=True)

    # --- the stack ----------------------------------------------------------------------------
    def environment(self, redis_url: str) -> dict[str, str]:
        return {**os.environ,
                "PEAKSHOP_DATABASE_URL": f"sqlite:///{self.instance / 'peakshop.sqlite3'}",
                "PEAKSHOP_REDIS_URL": redis_url,
                "PEAKSHOP_INSTANCE_PATH": str(self.instance),
                "PEAKSHOP_SECRET_KEY": secrets.token_hex(16),
                "PEAKSHOP_BIND": f"127.0.0.1:{self.port}",
                "PEAKSHOP_PIDFILE": str(self.pidfile),
                "PEAKSHOP_WEB_WORKERS": "1",
                # The waiting room and the shedder defend the SLO the report judges by.
                "PEAKSHOP_LATENCY_SLO_S": str(self.settings.slo.latency_p95_s),
                "PROMETHEUS_MULTIPROC_DIR": str(self.instance / "metrics"),
                # gunicorn's control socket goes here, not into a folder shared with others.
                "XDG_RUNTIME_DIR": str(self.instance),
                "PEAKSHOP_GATE": "true" if self.settings.gate else "false",
                # Incidents open from the burn rate and reach the receiver on loopback.
                "PEAKSHOP_WORKER_BURN_RATE_INTERVAL_S": str(BURN_RATE_INTERVAL_S),
                "PEAKSHOP_WEBHOOK_ALLOW_PRIVATE": "true",
                **self.cpu_limit_environment()}

    def cpu_limit_environment(self) -> dict[str, str]:
        """gunicorn's pod agent follows a v2 `cpu.max` (PEAKSHOP_FOLLOW_CPU_LIMIT): point it
        at this run's cgroup, which exists before gunicorn starts. A v1 quota has no such
        file, and the agent then says it has no limit to follow."""
        if self.cgroup is None or self.cgroup.hierarchy.version != 2:
            return {}
        return {"PEAKSHOP_CGROUP_CPU_MAX": str(self.cgroup.path / "cpu.max")}

    def start_child(self, name: str, command: list[str], env: dict[str, str],
                    cpus: frozenset[int] | None = None) -> Child:
        child = processes.start(name, command, env=env, log_path=self.report_dir / f"{name}.log",
                                cpus=None if cpus is None else set(cpus))
        self.children[name] = child
        return child

    def place_servers(self) -> None:
        """With --loadgen-cpus: this process, and so every server it starts from now on (the
        storefront and its gate, gunicorn, Redis, the workers, the scaler), runs on the CPUs
        Locust does not get. Undone in `cleanup`."""
        if self.settings.server_cpus is None:
            return
        self._affinity_before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, self.settings.server_cpus)

    def placement(self) -> dict | None:
        """Where Locust and the storefront ran, as the kernel had it (read back, not assumed)."""
        if self.settings.loadgen_cpus is None:
            return None
        return {name: processes.cpus_of(self.children[child].pid)
                if child in self.children else None
                for name, child in (("loadgen_cpus", "locust"), ("server_cpus", "serve"))}

    def redis_url(self) -> str:
        if self.settings.redis_url:
            return self.settings.redis_url
        from shop.core.redis import embedded_socket

        self.embedded_redis_url = "unix://" + embedded_socket(str(self.instance))
        return self.embedded_redis_url

    def start_stack(self) -> dict[str, str]:
        from shop.core.migrate import upgrade

        self.place_servers()
        env = self.environment(self.redis_url())
        upgrade(env["PEAKSHOP_DATABASE_URL"])
        server = self.start_child("serve", _peakshop("serve"), env)
        if not wait_ready(self.url, server.process):
            if not server.alive():
                raise click.ClickException(f"the storefront exited: see "
                                           f"{self.report_dir}/serve.log")
            raise click.ClickException(f"the storefront was not ready at {self.url} after "
                                       f"{READY_DEADLINE_S} s: see {self.report_dir}/serve.log")
        self.limit_gunicorn()
        return env

    def gunicorn_cpu_seconds(self) -> float | None:
        """CPU time of gunicorn's master and workers since it was ready (the gate's is not
        in it)."""
        try:
            total = processes.tree_cpu_seconds(int(self.pidfile.read_text().strip()))
            return round(total - self._gunicorn_cpu_at_ready, 2)
        except (OSError, ValueError):
            return None

    def limit_gunicorn(self) -> None:
        """Move gunicorn's master and workers into the CPU cgroup (with --web-cpu-limit).

        Done once gunicorn is ready, before any load: with --gate the `serve` child is the
        gate, which must stay outside, and gunicorn its child. Workers forked later (TTIN,
        a worker restarted) inherit the master's cgroup."""
        if self.cgroup is None:
            return
        master = int(self.pidfile.read_text().strip())
        self._gunicorn_cpu_at_ready = self.gunicorn_cpu_seconds() or 0.0
        moved = self.cgroup.add_tree(master, processes.children_of)
        click.echo(f"gunicorn limited to {self.cgroup.cores:g} cores: pids {moved} in "
                   f"{self.cgroup.path}")

    def start_order_workers(self, env: dict[str, str]) -> None:
        if not self.settings.scaler:
            self.start_child("worker", _peakshop("worker"), env)
            return
        worker_command = " ".join(shlex.quote(part) for part in _peakshop("worker"))
        command = _peakshop(
            "scaler", "run", "--target", "local", "--gunicorn-pidfile", str(self.pidfile),
            "--metrics-url", self.url + "/metrics", "--scaler-metrics-port", "0",
            "--min-replicas", "1", "--latency-slo", str(self.settings.slo.latency_p95_s),
            "--worker-command", worker_command)
        if self.settings.events_file is not None:
            command += self.announced_events()
        scaler = self.start_child("scaler", command, env)
        time.sleep(2)  # a bad flag or a missing pidfile shows at once
        if not scaler.alive():
            raise click.ClickException(f"`peakshop scaler run` exited with status "
                                       f"{scaler.process.returncode}: see "
                                       f"{self.report_dir}/scaler.log")

    def announced_events(self) -> list[str]:
        """Scaler flags announcing the trace's events on this run's clock.

        Events count from the start of the trace; the scaler counts from a season's first
        midnight. Today's midnight is made the season's start, and each event moves to where
        the trace will be then (the load starts a few seconds after the scaler).
        """
        today = datetime.date.today().isoformat()
        shifted = self.instance / "events.csv"
        shift_events(self.settings.events_file, shifted, self.replay.compress,
                     trace_starts_s=time.time() + LOAD_STARTS_AFTER_S - season_start(today))
        return ["--events", str(shifted), "--season-start", today]

    def gate_pid(self) -> int | None:
        """With --gate the `serve` child is the gate, gunicorn's master its child."""
        serve = self.children.get("serve")
        return serve.pid if self.settings.gate and serve is not None else None

    def order_worker_count(self) -> int:
        if "scaler" in self.children:
            scaler = self.children["scaler"]
            return len(processes.children_of(scaler.pid)) if scaler.alive() else 0
        worker = self.children.get("worker")
        return int(worker is not None and worker.alive())

    def start_locust(self, env: dict[str, str], slug: str, token: str) -> Child:
        replay = self.settings.replay_settings
        command = [sys.executable, "-m", "locust",
                   "-f", str(LOCUSTFILE),
                   "--host", self.url, "--headless", "--only-summary",
                   "--trace", replay.trace, "--compress", str(self.replay.compress),
                   "--scale", str(self.replay.scale), "--pacing", str(self.settings.pacing_s),
                   "--shop", slug, "--stop-timeout", str(LOCUST_STOP_TIMEOUT_S),
                   "--timeline-file", str(self.timeline.path),
                   "--orders-file", str(self.orders_file),
                   "--csv", str(self.report_dir / "locust"), "--exit-code-on-error", "0"]
        if self.settings.duration_s:
            command += ["--run-time", f"{self.settings.duration_s:g}s"]
        # The token goes through the environment, not the command line others can read.
        locust = self.start_child("locust", command, {**env, "LOCUST_MERCHANT_TOKEN": token},
                                  cpus=self.settings.loadgen_cpus)
        self._placement = self.placement()
        return locust

    def stop_all(self) -> None:
        """Load first, then the workers (the scaler stops its own), then the storefront."""
        for name in ("locust", "scaler", "worker", "serve"):
            if name in self.children:
                self.children[name].stop(STOP_TIMEOUT_S)

    def set_waiting_room(self, slug: str, token: str) -> None:
        """Switch the demo shop's waiting room as asked, through the public API."""
        if self.settings.waiting_room == "off":
            return
        body: dict = {"mode": self.settings.waiting_room}
        if self.settings.admit_per_s is not None:
            body["admit_per_s"] = self.settings.admit_per_s
        response = requests.put(f"{self.url}/api/v1/shops/{slug}/waiting-room", json=body,
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if response.status_code != 200:
            raise click.ClickException(f"cannot switch the waiting room {body}: "
                                       f"{response.status_code} {response.text[:200]}")
        click.echo(f"waiting room: {response.json()}")
        self.room.start(slug, token)

    def register_webhook(self, slug: str, token: str) -> None:
        """Register the receiver for the demo shop's incident events, through the public API."""
        self.receiver.start()
        response = requests.post(f"{self.url}/api/v1/shops/{slug}/webhooks",
                                 json={"url": self.receiver.url, "events": list(EVENTS)},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if response.status_code != 201:
            raise click.ClickException(f"cannot register the outage webhook: "
                                       f"{response.status_code} {response.text[:200]}")
        self.receiver.secret = response.json()["secret"]

    def load_clock_s(self) -> float | None:
        """Seconds since Locust's first second (the report's clock); None before it."""
        if not self.timeline.rows:
            return None
        return time.time() - self.timeline.rows[0]["epoch"]

    def maybe_start_outage(self, client: redis.Redis) -> None:
        """Take the dummy payment gateway down once the load's clock reaches the drill."""
        outage = self.settings.payments_outage
        if outage is None or self.outage_started_at is not None:
            return
        elapsed = self.load_clock_s()
        if elapsed is not None and elapsed >= outage[0]:
            from shop.payments.dummy import start_outage

            start_outage(client, outage[1])
            self.outage_started_at = time.time()
            click.echo(f"[drill] payment provider down for {outage[1]:g} s from "
                       f"t={elapsed:.0f}s")

    # --- watching -----------------------------------------------------------------------------
    def sample(self) -> None:
        self.samples.append(self.probe.sample())
        self.timeline.read_new()

    def progress(self, phase: str) -> None:
        """One line: the latest Locust second joined with the latest stack sample."""
        stack = self.samples[-1]
        line = f"[{phase}] "
        if self.timeline.rows:
            row = self.timeline.rows[-1]
            elapsed = row["epoch"] - self.timeline.rows[0]["epoch"]
            p95 = "-" if row["p95_s"] is None else f"{row['p95_s']:.2f}s"
            line += (f"t={elapsed:4d}s offered {row['offered']:4d}/s achieved "
                     f"{row['visits_ok']:4d}/s dropped {row['dropped']:3d} p95 {p95:>6} ")
        queue = "-" if stack.queue_depth is None else (
            f"{stack.queue_depth} ({stack.queue_age_s:.0f}s old)")
        orders = sum(row["orders_paid"] for row in self.timeline.rows)
        click.echo(line + f"web {stack.web_workers} workers {stack.order_workers} "
                          f"queue {queue} orders {orders}")

    def watch_load(self, locust: Child, client: redis.Redis) -> None:
        """Sample every second until Locust is done; a crashed server ends the run early."""
        last_progress = 0.0
        while locust.alive():
            self.sample()
            self.maybe_start_outage(client)
            if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                self.progress("load")
                last_progress = time.monotonic()
            for name in ("serve", "worker", "scaler"):
                child = self.children.get(name)
                if child is not None and not child.alive():
                    raise click.ClickException(
                        f"{name} exited with status {child.process.returncode} during the "
                        f"load: see {self.report_dir}/{name}.log")
            time.sleep(max(0.0, 1.0 - (time.time() - self.samples[-1].epoch)))
        self.sample()
        self.locust_exit_code = locust.process.returncode
        if self.locust_exit_code != 0:
            click.echo(f"Locust exited with status {self.locust_exit_code}: see "
                       f"{self.report_dir}/locust.log", err=True)

    def drain(self, slug: str, token: str) -> orders_check.OrdersCheck:
        """Wait (bounded) for the queue to drain and every placed order to be confirmed."""
        check = orders_check.OrdersCheck(placed=orders_check.read_placed(self.orders_file))
        click.echo(f"load finished: waiting up to {self.settings.drain_timeout_s:.0f} s for "
                   f"{len(check.placed)} orders to be confirmed")
        last_progress = [0.0]

        def between_polls(_elapsed: float) -> None:
            for _ in range(2):
                self.sample()
                time.sleep(1.0)
            if time.monotonic() - last_progress[0] >= PROGRESS_EVERY_S:
                self.progress("drain")
                last_progress[0] = time.monotonic()

        return orders_check.wait_until_confirmed(
            check, self.url, slug=slug, token=token,
            timeout_s=self.settings.drain_timeout_s, on_wait=between_polls,
            pending_expected=self.settings.payments_outage is not None)

    # --- the whole run ------------------------------------------------------------------------
    def run(self) -> dict:
        """Start, load, drain, verify, stop; returns the summary (also written to disk)."""
        check = orders_check.OrdersCheck()
        try:
            env = self.start_stack()
            click.echo(f"storefront ready at {self.url} (instance {self.instance})")
            shop = seed_demo_shop(self.url)
            click.echo(f"seeded shop {shop.slug!r} with {len(shop.catalog.skus)} products")
            self.set_waiting_room(shop.slug, shop.merchant_token)
            self.register_webhook(shop.slug, shop.merchant_token)
            self.start_order_workers(env)
            self.server_latency = ServerLatency(self.url + "/metrics").start()
            self.probe = StackProbe(self.pidfile, self.order_worker_count,
                                    client_from_url(env["PEAKSHOP_REDIS_URL"],
                                                         socket_timeout=2),
                                    lambda: self.children["locust"].pid
                                    if "locust" in self.children else None,
                                    self.server_latency,
                                    gate_pid=self.gate_pid)
            locust = self.start_locust(env, shop.slug, shop.merchant_token)
            click.echo(f"replaying {self.settings.replay_settings.trace}: "
                       f"{self.replay.duration_s} s, compress {self.replay.compress:g}, "
                       f"scale {self.replay.scale:g}, "
                       f"{'scaler on' if self.settings.scaler else 'no scaler'}")
            self.watch_load(locust, client_from_url(env["PEAKSHOP_REDIS_URL"],
                                                    socket_timeout=2))
            check = self.drain(shop.slug, shop.merchant_token)
        except Interrupted:
            self.interrupted = True
            click.echo("interrupted: stopping everything", err=True)
        except (SeedError, requests.RequestException) as problem:
            raise click.ClickException(f"cannot seed the demo shop: {problem}") from None
        finally:
            if self.server_latency is not None:
                self.server_latency.stop()
            self.room.stop()
            self.receiver.stop()
            if self.cgroup is not None and self.cgroup.path.is_dir():
                self.cgroup.read_stats()
                self.gunicorn_cpu_s = self.gunicorn_cpu_seconds()
            self.stop_all()
        self.timeline.read_new()
        return self.write_report(check)

    def write_report(self, check: orders_check.OrdersCheck) -> dict:
        rows = report.build_timeline(self.timeline.rows, self.samples, self.room.states)
        totals = self.timeline.totals or _totals_from_rows(self.timeline.rows)
        locust_cpu_s = max((sample.locust_cpu_s for sample in self.samples), default=0.0)
        run = {"trace": self.settings.replay_settings.trace, "compress": self.replay.compress,
               "scale": self.replay.scale, "scaler": self.settings.scaler,
               "pacing_s": self.settings.pacing_s, "interrupted": self.interrupted,
               "locust_exit_code": self.locust_exit_code,
               "events": str(self.settings.events_file) if self.settings.events_file else None,
               "waiting_room_mode": self.settings.waiting_room,
               "admit_per_s": self.settings.admit_per_s,
               "gate": self.settings.gate,
               "gate_processes": (int(os.environ.get("PEAKSHOP_GATE_PROCESSES") or 1)
                                  if self.settings.gate else None),
               "web_cpu_limit": None if self.cgroup is None else {
                   "cores": self.cgroup.cores, "cgroup": self.cgroup.hierarchy.version,
                   **(self.cgroup.stats or {}), "gunicorn_cpu_s": self.gunicorn_cpu_s},
               "cpu_placement": self._placement,
               "locust_cpu_ms_per_visit": 1000 * locust_cpu_s / max(1, totals.get("started", 0)),
               "load_average_1min_at_end": round(os.getloadavg()[0], 2),
               "payments_outage": self.outage_summary()}
        summary = report.summarize(rows, totals, self.settings.slo, orders=check.to_summary(),
                                   run=run)
        summary["webhooks"] = self.receiver.summary(self.load_started_epoch())
        report.write_csv(rows, self.report_dir / "timeline.csv")
        report.write_summary(summary, self.report_dir / "summary.json")
        if rows:
            title = (f"peakshop rehearsal: {Path(self.settings.replay_settings.trace).name}, "
                     f"{'scaler' if self.settings.scaler else 'no scaler'}, waiting room "
                     f"{self.settings.waiting_room}{', gate' if self.settings.gate else ''}"
                     f"{f', gunicorn {self.cgroup.cores:g} cores' if self.cgroup else ''}")
            report.write_plot(rows, self.settings.slo, self.report_dir / "timeline.png", title,
                              report.plot_marks(summary))
        return summary

    def load_started_epoch(self) -> float:
        return self.timeline.rows[0]["epoch"] if self.timeline.rows else time.time()

    def outage_summary(self) -> dict | None:
        """The drill as asked and as run, on the load's clock (None without one)."""
        outage = self.settings.payments_outage
        if outage is None:
            return None
        started = (None if self.outage_started_at is None
                   else round(self.outage_started_at - self.load_started_epoch(), 1))
        return {"start_s": outage[0], "seconds": outage[1], "started_at_s": started}


    def cleanup(self) -> None:
        """Stop the embedded Redis (if this run started one), delete the instance folder, and
        give this process back the CPUs it had."""
        if self._affinity_before is not None:
            os.sched_setaffinity(0, self._affinity_before)
        if self.embedded_redis_url:
            try:
                redis.Redis.from_url(self.embedded_redis_url).shutdown(nosave=True)
            except redis.RedisError:
                pass  # already gone
        shutil.rmtree(self.instance, ignore_errors=True)


class RoomPoller:
    """Reads the shop's waiting room (GET .../waiting-room) once a second in a thread, so a
    slow answer under load never delays the stack samples."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.states: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, slug: str, token: str) -> None:
        address = f"{self.url}/api/v1/shops/{slug}/waiting-room"
        headers = {"Authorization": f"Bearer {token}"}

        def poll() -> None:
            with requests.Session() as session:
                while not self._stop.is_set():
                    try:
                        answer = session.get(address, headers=headers, timeout=5)
                        if answer.status_code == 200:
                            self.states[int(time.time())] = answer.json()
                    except requests.RequestException:
                        pass  # a busy storefront: this second stays empty
                    self._stop.wait(1.0 - time.time() % 1.0)

        self._thread = threading.Thread(target=poll, name="room-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _totals_from_rows(rows: list[dict]) -> dict:
    keys = ("offered", "started", "late", "dropped", "visits_ok", "visits_failed", "requests",
            "failures", "orders_paid", "payments_declined", "sold_out", "in_line",
            "waiting_answers", "waiting_answers_without_eta", "admitted_from_line")
    totals = {key: sum(row.get(key, 0) for row in rows) for key in keys}
    pairs: dict[str, int] = {}
    for row in rows:
        for pair, count in (row.get("eta_pairs") or {}).items():
            pairs[pair] = pairs.get(pair, 0) + count
    return totals | {"eta_pairs": pairs}
