"""The app in this process (Flask's test client, so HTTP parsing, the door and the role check
count) on a real database and Redis, with a premium shop: for benchmarks of single requests
that need no gunicorn."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from shop import create_app
from shop.core.migrate import upgrade
from tests.support.servers import PostgresServer, RedisServer


@dataclass(frozen=True)
class BenchShop:
    app: Flask
    client: FlaskClient
    slug: str
    merchant_id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.contextmanager
def bench_shop(database: str, name: str, password: str = "long enough") -> Iterator[BenchShop]:
    """A fresh `database` ("sqlite" or "postgresql") and Redis, the app, and a premium shop
    called `name` whose owner signs in with `name`@example.com; everything stopped after."""
    workdir = Path(tempfile.mkdtemp(prefix=f"peakshop-{name}-"))
    redis_server = RedisServer.start()
    postgres = PostgresServer.start() if database == "postgresql" else None
    try:
        database_url = (postgres.create_database("bench") if postgres
                        else f"sqlite:///{workdir / 'bench.sqlite3'}")
        upgrade(database_url)
        app = create_app({"database_url": database_url, "redis_url": redis_server.url,
                          "secret_key": "bench", "instance_path": str(workdir / "instance"),
                          "log_json": False})
        try:
            client = app.test_client()
            owner = client.post("/api/v1/merchants", json={
                "name": name, "email": f"{name}@example.com", "password": password}).get_json()
            shop = BenchShop(app, client, owner["merchant"]["slug"], owner["merchant"]["id"],
                             owner["token"])
            client.put(f"/api/v1/shops/{shop.slug}/plan", headers=shop.auth,
                       json={"plan": "premium"})
            yield shop
        finally:
            app.extensions["peakshop"].database.dispose()
            app.extensions["peakshop"].redis.close()
    finally:
        if postgres:
            postgres.stop()
        redis_server.stop()
