"""Migrations build exactly the schema the models describe, on both databases."""

import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import shop.models  # noqa: F401  (registers every table)
from shop.core.db import Base, make_engine
from shop.core.migrate import alembic_config, upgrade


def test_migrated_schema_matches_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == [], "write a migration for these model changes"


def schema_snapshot(url: str) -> dict:
    """Tables with their columns and indexes, and the revision Alembic recorded."""
    engine = make_engine(url)
    with engine.connect() as connection:
        inspector = inspect(connection)
        tables = {table: ([(column["name"], str(column["type"]), column["nullable"])
                           for column in inspector.get_columns(table)],
                          sorted(index["name"] for index in inspector.get_indexes(table)))
                  for table in inspector.get_table_names()}
        revision = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    return {"tables": tables, "revision": revision}


def test_upgrading_again_changes_nothing(database_url):
    before = schema_snapshot(database_url)
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert before["revision"] == head and "orders" in before["tables"]
    upgrade(database_url)
    upgrade(database_url)
    assert schema_snapshot(database_url) == before


def test_pods_migrating_at_once_all_succeed(postgres_server):
    """Several storefront pods start together; each runs `peakshop db upgrade`."""
    url = postgres_server.create_database("concurrent_migrations")
    failures = []

    def migrate():
        try:
            upgrade(url)
        except Exception as problem:  # collected and reported below
            failures.append(problem)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
