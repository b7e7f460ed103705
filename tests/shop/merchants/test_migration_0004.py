"""Migration 0004 carries existing companies over: people from collaborators, tokens expiring."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from shop import create_app
from shop.core.db import make_engine
from shop.core.migrate import upgrade


def test_existing_accounts_and_tokens_survive_the_upgrade(database_url, settings_overrides,
                                                          redis_client, tmp_path):
    if database_url.startswith("postgresql"):
        # The session's database is already at head: start one at 0002 beside it.
        base, _, _ = database_url.rpartition("/")
        admin = make_engine(base + "/postgres")
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("DROP DATABASE IF EXISTS migration_0004")
            connection.exec_driver_sql("CREATE DATABASE migration_0004")
        admin.dispose()
        database_url = base + "/migration_0004"
    else:
        database_url = f"sqlite:///{tmp_path / 'at-0002.sqlite3'}"
    upgrade(database_url, "0002")
    engine = make_engine(database_url)
    created = datetime(2026, 11, 30, 12, 0)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO merchants (id, slug, name, created_at) VALUES (1, 'old', 'Old', :t)"),
            {"t": created})
        connection.execute(sa.text(
            "INSERT INTO collaborators (id, merchant_id, email, password_hash, role, created_at)"
            " VALUES (1, 1, 'old@example.com', :h, 'owner', :t),"
            " (2, 1, 'helper@example.com', :h, 'staff', :t)"),
            {"h": generate_password_hash("old password"), "t": created})
        connection.execute(sa.text(
            "INSERT INTO api_tokens (id, token_hash, collaborator_id, merchant_id, created_at)"
            " VALUES (1, :hash, 1, 1, :t)"), {"hash": "a" * 64, "t": created})
    upgrade(database_url)
    with engine.connect() as connection:
        people = connection.execute(sa.text(
            "SELECT email FROM people ORDER BY email")).scalars().all()
        members = connection.execute(sa.text(
            "SELECT c.id, p.email, c.role, c.status FROM collaborators c "
            "JOIN people p ON p.id = c.person_id ORDER BY c.id")).all()
        expires_at = connection.execute(sa.text(
            "SELECT expires_at FROM api_tokens WHERE id = 1")).scalar_one()
    engine.dispose()
    assert people == ["helper@example.com", "old@example.com"]
    assert [tuple(row) for row in members] == [(1, "old@example.com", "owner", "active"),
                                               (2, "helper@example.com", "staff", "active")]
    assert str(expires_at).startswith("2026-12-30")
    app = create_app({**settings_overrides, "database_url": database_url})
    try:
        signed_in = app.test_client().post("/api/v1/tokens", json={
            "email": "old@example.com", "password": "old password"})
        assert signed_in.status_code == 201
        assert signed_in.get_json()["merchant"]["slug"] == "old"
    finally:
        app.extensions["peakshop"].database.dispose()
        app.extensions["peakshop"].redis.close()
    _downgrade(database_url, before_0004(database_url))
    engine = make_engine(database_url)
    with engine.connect() as connection:
        back = connection.execute(sa.text(
            "SELECT email, role FROM collaborators ORDER BY id")).all()
        tokens = connection.execute(sa.text("SELECT count(*) FROM api_tokens")).scalar_one()
    engine.dispose()
    assert [tuple(row) for row in back] == [("old@example.com", "owner"),
                                            ("helper@example.com", "staff")]
    assert tokens == 2  # the old one and the sign-in's
    upgrade(database_url)


def before_0004(database_url: str) -> str:
    """The revision 0004 follows (the chain grows as other changes land before it)."""
    from alembic.script import ScriptDirectory

    from shop.core.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(database_url)).get_revision(
        "0004").down_revision


def _downgrade(database_url: str, revision: str) -> None:
    from alembic import command

    from shop.core.migrate import alembic_config

    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    engine.dispose()
