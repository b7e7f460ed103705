"""Fixtures: real Redis and PostgreSQL servers, the app on either database, API helpers.

Every test that takes `app` runs twice, on SQLite (the embedded default) and on PostgreSQL
(production); `PEAKSHOP_TEST_BACKENDS=sqlite` narrows that while iterating locally.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import redis

from common.redis_url import client_from_url
from shop import create_app
from shop.core.migrate import upgrade
from tests.support.api import ShopApi
from tests.support.servers import PostgresServer, RedisClusterServer, RedisServer

BACKENDS = [name.strip() for name in
            os.environ.get("PEAKSHOP_TEST_BACKENDS", "sqlite,postgresql").split(",")
            if name.strip()]


@pytest.fixture(scope="session")
def single_redis():
    server = RedisServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster():
    cluster = RedisClusterServer.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_server(request):
    """The Redis a test talks to: one server; in modules marked `redis_topologies` each test
    also runs against a three-master Redis Cluster."""
    topology = getattr(request, "param", "single")
    return request.getfixturevalue("redis_cluster" if topology == "cluster" else "single_redis")


def pytest_generate_tests(metafunc):
    if ("redis_server" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("redis_topologies")):
        metafunc.parametrize("redis_server", ["single", "cluster"], indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server) -> str:
    """One migrated database for the session; each test empties it first."""
    url = postgres_server.create_database("peakshop_test")
    upgrade(url)
    return url


def empty_postgres(url: str) -> None:
    import shop.models  # noqa: F401  (registers every table)
    from shop.core.db import Base, make_engine

    engine = make_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "peakshop.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A freshly migrated, empty database of each backend."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_database")
        empty_postgres(url)
        return url
    path = tmp_path / "peakshop.sqlite3"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def redis_client(redis_server) -> redis.Redis:
    from shop.status import slo_batch

    # Counts an earlier test's app still holds would otherwise land after the wipe, in this
    # test's buckets (they are written within a second, by a thread).
    slo_batch.flush_all()
    client = client_from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def settings_overrides(database_url, redis_server, tmp_path) -> dict:
    return {
        "database_url": database_url,
        "redis_url": redis_server.url,
        "secret_key": "test-secret",
        "instance_path": str(tmp_path / "instance"),
        "log_json": False,
        "testing": True,
    }


@pytest.fixture
def app(settings_overrides, redis_client):
    application = create_app(settings_overrides)
    yield application
    application.extensions["peakshop"].database.dispose()
    application.extensions["peakshop"].redis.close()


@pytest.fixture
def make_app(settings_overrides):
    """Build extra apps with changed settings; their pools are closed after the test."""
    made = []

    def make(**changes):
        application = create_app({**settings_overrides, **changes})
        made.append(application)
        return application

    yield make
    for application in made:
        resources = application.extensions["peakshop"]
        resources.database.dispose()
        resources.redis.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client) -> ShopApi:
    return ShopApi(client)


@pytest.fixture
def shop(api):
    """A merchant with a signed-up owner: `.slug`, `.token`."""
    return api.sign_up("Nordpol Geschenke")


@pytest.fixture
def gunicorn_server(database_url, redis_client, redis_server, tmp_path):
    """The storefront under gunicorn (2 workers x 8 threads) on this test's database and
    Redis, for races over real HTTP."""
    from tests.support.live import LiveServer

    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=2, threads=8)
    yield server
    server.stop()
