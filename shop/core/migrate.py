"""Schema migrations with Alembic, driven from Python so `peakshop db upgrade` needs no ini file."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shop.core.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK = 0x7065616B  # "peak": any constant that is this application's alone


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision`."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Every storefront pod migrates on start; the first runs it, the others wait
                # here and then find nothing left to do.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
