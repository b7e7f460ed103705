"""Settings come from the environment once; a bad value stops start-up with one clear line."""

import os
import subprocess
import sys

import pytest

from shop.core.settings import ConfigError, load_settings


def test_defaults_are_the_embedded_set_up(tmp_path):
    settings = load_settings(environ={}, overrides={"instance_path": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path}/peakshop.sqlite3"
    assert settings.redis_url is None
    assert settings.payment_gateway == "dummy"


def test_environment_is_read(tmp_path):
    settings = load_settings(environ={
        "PEAKSHOP_DATABASE_URL": "postgresql+psycopg://shop@db/shop",
        "PEAKSHOP_REDIS_URL": "redis://cache:6379/1",
        "PEAKSHOP_RESERVATION_TTL_S": "60",
        "PEAKSHOP_LOG_JSON": "false",
    })
    assert settings.database_url == "postgresql+psycopg://shop@db/shop"
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.reservation_ttl_s == 60
    assert settings.log_json is False


@pytest.mark.parametrize("variable, value, message", [
    ("PEAKSHOP_REDIS_URL", "localhost",
     "PEAKSHOP_REDIS_URL is not a redis:// URL"),
    ("PEAKSHOP_DATABASE_URL", "mysql://x", "PEAKSHOP_DATABASE_URL is not a postgresql://"),
    ("PEAKSHOP_PAYMENT_GATEWAY", "paypal", "PEAKSHOP_PAYMENT_GATEWAY must be one of dummy"),
    ("PEAKSHOP_RESERVATION_TTL_S", "ten", "PEAKSHOP_RESERVATION_TTL_S is not a whole number"),
    # gunicorn's own settings: a server with no workers would listen and never answer.
    ("PEAKSHOP_WEB_WORKERS", "abc", "PEAKSHOP_WEB_WORKERS is not a whole number"),
    ("PEAKSHOP_WEB_WORKERS", "0", "PEAKSHOP_WEB_WORKERS must be greater than 0"),
    ("PEAKSHOP_WEB_WORKERS", "-3", "PEAKSHOP_WEB_WORKERS must be greater than 0"),
    ("PEAKSHOP_WEB_THREADS", "abc", "PEAKSHOP_WEB_THREADS is not a whole number"),
    ("PEAKSHOP_WEB_TIMEOUT_S", "0", "PEAKSHOP_WEB_TIMEOUT_S must be greater than 0"),
    ("PEAKSHOP_WEB_READ_TIMEOUT_S", "nan", "PEAKSHOP_WEB_READ_TIMEOUT_S must be a number above 0"),
    ("PEAKSHOP_RESERVATION_TTL_S", "0", "must be greater than 0"),
    ("PEAKSHOP_BIND", "8000", "PEAKSHOP_BIND is not HOST:PORT"),
    ("PEAKSHOP_LOG_JSON", "maybe", "PEAKSHOP_LOG_JSON must be true or false"),
])
def test_malformed_values_are_named(variable, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={variable: value})


def test_stripe_needs_its_keys():
    with pytest.raises(ConfigError, match="STRIPE_API_KEY is required"):
        load_settings(environ={"PEAKSHOP_PAYMENT_GATEWAY": "stripe"})


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"]])
def test_the_cli_prints_one_line_and_exits_2(command, tmp_path):
    env = {**os.environ, "PEAKSHOP_REDIS_URL": "localhost",
           "PEAKSHOP_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "peakshop.cli", *command], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "peakshop: PEAKSHOP_REDIS_URL is not a redis:// URL "
        "(for example redis://localhost:6379/0): got 'localhost'"]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused(url):
    """Every process, and every connection, would get an empty database of its own."""
    with pytest.raises(ConfigError, match="in-memory SQLite database .* give a file"):
        load_settings(environ={"PEAKSHOP_DATABASE_URL": url})


@pytest.mark.parametrize("database_url, said", [
    ("postgresql+psycopg://shop:secret@127.0.0.1:1/shop", "Connection refused"),
    ("sqlite:///{tmp}/not-a-database.txt", "file is not a database"),
    ("sqlite:///{tmp}", "unable to open database file"),
])
def test_db_upgrade_on_a_database_it_cannot_use_says_so_in_one_line(tmp_path, database_url,
                                                                    said):
    (tmp_path / "not-a-database.txt").write_text("sku,name\n" * 200)
    env = {**os.environ, "PEAKSHOP_DATABASE_URL": database_url.format(tmp=tmp_path),
           "PEAKSHOP_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "peakshop.cli", "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("peakshop db upgrade: ") and said in line
    assert "PEAKSHOP_DATABASE_URL" in line and "secret" not in line


def test_a_worker_whose_instance_folder_cannot_be_written_says_so_in_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {**os.environ, "PEAKSHOP_INSTANCE_PATH": str(blocker / "instance"),
           "PEAKSHOP_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}"}
    result = subprocess.run([sys.executable, "-m", "peakshop.cli", "worker"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "PEAKSHOP_INSTANCE_PATH" in line and "cannot be written" in line
