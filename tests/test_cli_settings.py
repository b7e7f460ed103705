"""Hostile settings and flags: each stops the real `peakshop` command at start-up with one line
on stderr naming what is wrong, a non-zero exit, and never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shop.core.settings import ConfigError, load_settings
from tests.support.listening import listener  # noqa: F401  (a fixture)
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[1]
# A command that starts instead of refusing runs until this, then the test fails.
DEADLINE_S = 60


def peakshop(*arguments: str, tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run `peakshop ARGUMENTS` with `variables` on top of a private instance folder."""
    inherited = {name: value for name, value in os.environ.items()
                 if not name.startswith(("PEAKSHOP_", "STRIPE_"))}
    env = {**inherited, "PEAKSHOP_INSTANCE_PATH": str(tmp_path / "instance"),
           "PEAKSHOP_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
           # Not the default 127.0.0.1:8000, which another server on the machine may hold.
           "PEAKSHOP_BIND": f"127.0.0.1:{free_port()}",
           "PEAKSHOP_LOG_JSON": "false", **variables}
    # A session of its own: a server that did start (gunicorn and its workers) is stopped whole.
    process = subprocess.Popen([sys.executable, "-m", "peakshop.cli", *arguments], env=env,
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"peakshop {' '.join(arguments)} started instead of refusing:\n{stderr}")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def one_line(result: subprocess.CompletedProcess) -> str:
    """The single line on stderr of a command that refused to start."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode != 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("port", ["99999", "-1", "١٢", "1_000", "nan"])
def test_a_worker_metrics_port_outside_0_65535_is_refused(tmp_path, port):
    line = one_line(peakshop("worker", "--metrics-port", port, tmp_path=tmp_path))
    assert "--metrics-port" in line


@pytest.mark.parametrize("bind", ["127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:١٢"])
def test_serve_refuses_a_bind_port_outside_1_65535(tmp_path, bind):
    line = one_line(peakshop("serve", tmp_path=tmp_path, PEAKSHOP_BIND=bind))
    assert "PEAKSHOP_BIND" in line


def test_serve_on_an_address_in_use_says_so_in_one_line(tmp_path, listener):  # noqa: F811
    host, port = listener.getsockname()
    line = one_line(peakshop("serve", tmp_path=tmp_path, PEAKSHOP_BIND=f"{host}:{port}"))
    assert "PEAKSHOP_BIND" in line and "in use" in line


@pytest.mark.parametrize("command", [["worker"], ["serve"], ["db", "upgrade"]])
@pytest.mark.parametrize("url, said", [
    ("redis://127.0.0.1:99999/0", "port '99999'"),
    ("redis://localhost/abc", "database 'abc'"),
])
def test_a_redis_url_with_a_bad_port_or_database_is_refused(tmp_path, command, url, said):
    line = one_line(peakshop(*command, tmp_path=tmp_path, PEAKSHOP_REDIS_URL=url))
    assert "PEAKSHOP_REDIS_URL" in line and said in line


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_database_that_cannot_be_opened_is_named_like_db_upgrade_does(tmp_path, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_line(peakshop(command, tmp_path=tmp_path,
                             PEAKSHOP_DATABASE_URL=f"sqlite:///{blocker}/shop.sqlite3"))
    assert line.startswith(f"peakshop {command}: the database refused")
    assert "PEAKSHOP_DATABASE_URL" in line


def test_serve_names_an_instance_folder_it_cannot_write(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_line(peakshop("serve", tmp_path=tmp_path,
                             PEAKSHOP_INSTANCE_PATH=str(blocker / "instance")))
    assert "PEAKSHOP_INSTANCE_PATH" in line and "cannot be written" in line


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_restore_to_a_time_outside_the_calendar_is_refused(tmp_path, moment):
    line = one_line(peakshop("restore", "--from", f"file://{tmp_path}/store",
                             "--into", f"sqlite:///{tmp_path}/restored.sqlite3",
                             "--to-time", moment, tmp_path=tmp_path))
    assert line.startswith("peakshop restore: --to-time") and "is not a real moment" in line


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"]])
def test_the_worker_settings_are_checked_by_every_process(tmp_path, command):
    line = one_line(peakshop(*command, tmp_path=tmp_path,
                             PEAKSHOP_PERSONAL_DATA_RETENTION_DAYS="-5"))
    assert "PEAKSHOP_PERSONAL_DATA_RETENTION_DAYS must be greater than 0" in line


@pytest.mark.parametrize("variable, value", [
    # Other scripts' digits and underscores, which int() and float() read.
    ("PEAKSHOP_WEB_WORKERS", "١٢"),
    ("PEAKSHOP_WEB_WORKERS", "1_0"),
    ("PEAKSHOP_PROXY_HOPS", "²"),
    ("PEAKSHOP_CATALOG_MAX_AGE_S", "١٢"),
    ("PEAKSHOP_LATENCY_SLO_S", "1_0"),
    ("PEAKSHOP_POD_TARGET_UTILISATION", "٠.٥"),
    # Numbers too large for the clocks and C calls that take them.
    ("PEAKSHOP_RESERVATION_TTL_S", "99999999999999999999"),
    ("PEAKSHOP_WEB_READ_TIMEOUT_S", "1e300"),
    ("PEAKSHOP_WEB_READ_TIMEOUT_S", "inf"),
    ("PEAKSHOP_CATALOG_STALE_S", "-1"),
    # Ports outside 1-65535 in any URL.
    ("PEAKSHOP_DATABASE_URL", "postgresql+psycopg://shop@db:99999/shop"),
    ("PEAKSHOP_SMTP_URL", "smtp://mail:0"),
    ("PEAKSHOP_PUBLIC_URL", "http://[shop"),
    ("PEAKSHOP_METRICS_BIND", "0.0.0.0:65536"),
    ("PEAKSHOP_REDIS_URL", "redis://cache:6379/1?cluster=true"),
])
def test_hostile_values_are_named(variable, value):
    with pytest.raises(ConfigError, match=f"^{variable} "):
        load_settings(environ={variable: value})


def test_worker_intervals_are_finite():
    from shop.orders.worker_settings import load_worker_settings

    with pytest.raises(ConfigError, match="^PEAKSHOP_WORKER_GRACE_S "):
        load_worker_settings("instance", environ={"PEAKSHOP_WORKER_GRACE_S": "inf"})


@pytest.mark.parametrize("group", ["db", "scaler", "incident", "images"])
def test_a_command_group_called_bare_shows_its_commands(tmp_path, group):
    result = peakshop(group, tmp_path=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    assert result.stderr.startswith(f"Usage: peakshop {group} ") and "Commands:" in result.stderr


@pytest.mark.parametrize("arguments, said", [
    (["db", "upgrade", "--bogus"], "No such option '--bogus'"),
    (["nonsense"], "No such command 'nonsense'"),
    (["rehearse"], "Missing option '--trace'"),
])
def test_a_bad_flag_or_command_is_one_line(tmp_path, arguments, said):
    assert said in one_line(peakshop(*arguments, tmp_path=tmp_path))
