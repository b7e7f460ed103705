"""A process frozen inside a transaction must not hold its row locks for ever.

Real PostgreSQL: the server ends a session left idle in a transaction after the timeout
peakshop sends at connect time, which releases the locks that checkouts wait for.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import exc, make_url, text

from shop.core.db import IDLE_IN_TRANSACTION_TIMEOUT_MS, Database


def test_connections_ask_postgresql_to_end_sessions_idle_in_a_transaction(postgres_database):
    database = Database(postgres_database)
    try:
        with database.engine.connect() as connection:
            shown = connection.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
        assert shown == f"{IDLE_IN_TRANSACTION_TIMEOUT_MS // 60_000}min"
    finally:
        database.dispose()


def test_a_frozen_transaction_releases_its_row_lock(postgres_database):
    """The first session takes a row lock and goes quiet, as a SIGSTOPped worker would; a
    second session waiting for the row gets it once the server ends the first."""
    url = make_url(postgres_database).update_query_dict(
        {"options": "-c idle_in_transaction_session_timeout=500"}).render_as_string(
        hide_password=False)
    frozen, waiting = Database(url), Database(postgres_database)
    try:
        with waiting.engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS frozen_lock (id int primary key,"
                                    " n int)"))
            connection.execute(text("INSERT INTO frozen_lock VALUES (1, 0) "
                                    "ON CONFLICT DO NOTHING"))
        holder = frozen.engine.connect()
        holder.begin()
        holder.execute(text("UPDATE frozen_lock SET n = n + 1 WHERE id = 1"))
        time.sleep(1.0)   # idle in the transaction, past the 500 ms the URL asked for
        with waiting.engine.begin() as connection:
            # A lock_timeout turns "waits for ever" into a failure of this test.
            connection.execute(text("SET LOCAL lock_timeout = '30s'"))
            connection.execute(text("UPDATE frozen_lock SET n = n + 10 WHERE id = 1"))
            assert connection.execute(text("SELECT n FROM frozen_lock")).scalar() == 10
        with pytest.raises(exc.DBAPIError):
            holder.execute(text("SELECT 1"))   # the frozen session was ended: it rolled back
        holder.invalidate()
    finally:
        frozen.dispose()
        with waiting.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS frozen_lock"))
        waiting.dispose()
