"""The database: one engine per process, sessions handed to services explicitly.

Services take a `Session` argument and never reach for a global, so the web app, the order
worker and the tests all drive them the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import BigInteger, Integer, create_engine, event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from shop.core.direct_statements import DirectStatements


class Base(DeclarativeBase):
    """Declarative base of every table peakshop owns."""


def make_engine(database_url: str, *, read_only: bool = False) -> Engine:
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(database_url, connect_args={"timeout": 30},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        if not read_only:
            # pysqlite's own BEGIN handling defers the write lock to the first write, which
            # lets two checkouts both read and then deadlock on upgrade; BEGIN IMMEDIATE
            # serialises writers up front instead. Reads run in autocommit: in WAL mode each
            # statement sees a consistent snapshot and never waits for a writer.
            event.listen(engine, "begin",
                         lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    url, behind_pgbouncer = without_pgbouncer_flag(database_url)
    # Behind PgBouncer in transaction mode each transaction may land on another server
    # connection, where a statement psycopg prepared earlier does not exist: never prepare.
    # PgBouncer drops startup options, so there the server carries the idle timeout itself
    # (the production cluster's parameters do).
    connect_args: dict = ({"prepare_threshold": None} if behind_pgbouncer
                          else _session_options(url))
    # No pre-ping: it would cost a round trip per request. A connection broken by a database
    # restart fails one request with 503 and the pool replaces it.
    # hide_parameters: a logged database error must not carry e-mails, hashes or tokens.
    return create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800,
                         connect_args=connect_args, hide_parameters=True)


# A process frozen inside a transaction (a stopped container, a paused VM, a debugger) keeps
# its row locks: every checkout of the products it touched would wait behind it for ever.
# PostgreSQL ends such a session after this long idle in a transaction, which rolls it back.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000


def _session_options(url: str) -> dict:
    """Server settings sent at connect time, unless the URL brings its own `options`."""
    if "options" in make_url(url).query:
        return {}
    return {"options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"}


def without_pgbouncer_flag(database_url: str) -> tuple[str, bool]:
    """`database_url` without its `pgbouncer=true` query flag, and whether it was there.

    The flag (the convention Prisma and others use) says the URL reaches PostgreSQL through
    PgBouncer in transaction pooling mode; it is peakshop's, not the driver's.
    """
    parsed = make_url(database_url)
    flag = parsed.query.get("pgbouncer")
    if flag is None:
        return database_url, False
    if flag not in ("true", "false"):
        raise ValueError(f"pgbouncer= in the database URL must be true or false: got {flag!r}")
    return parsed.difference_update_query(["pgbouncer"]).render_as_string(
        hide_password=False), flag == "true"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Hand transaction control to SQLAlchemy's "begin" hook above.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """An engine and its session factory."""

    def __init__(self, database_url: str):
        self.url = database_url
        self.engine = make_engine(database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite lets readers run beside the one writer (WAL) only if they do not take the
        # write lock up front; PostgreSQL needs no such split.
        self.read_engine = (make_engine(database_url, read_only=True)
                            if database_url.startswith("sqlite") else self.engine)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        # The hottest reads are one statement each: on PostgreSQL, autocommit spares them
        # the BEGIN and ROLLBACK round trips (a lone statement sees one snapshot anyway).
        # SQLite's read engine runs without transactions already.
        self.statement_engine = (self.read_engine if database_url.startswith("sqlite")
                                 else self.read_engine.execution_options(
                                     isolation_level="AUTOCOMMIT"))
        # The reads of every request (the catalog's freshness facts): one prebuilt statement
        # each, run on a connection of the thread's own, outside the pool.
        self.statements = DirectStatements(self.read_engine,
                                          lambda: own_read_connection(self.read_engine))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection for the hottest read paths (no ORM, no transaction): each
        statement sees its own snapshot."""
        with self.statement_engine.connect() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only; it never blocks a writer."""
        with self.read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.statements.close()
        self.engine.dispose()
        self.read_engine.dispose()

    def forget_inherited_connections(self) -> None:
        """In a forked child: drop the parent's pooled connections without closing them,
        which would close them under the parent too."""
        self.engine.dispose(close=False)
        self.read_engine.dispose(close=False)
        self.statements.forget_inherited()


def own_read_connection(engine: Engine):
    """A DBAPI connection made as `engine` makes them (its connect arguments and hooks),
    taken out of its pool for good, in autocommit: for reads of one statement each."""
    pooled = engine.raw_connection()
    pooled.detach()
    connection = pooled.dbapi_connection
    if engine.dialect.name == "postgresql":
        connection.autocommit = True  # SQLite's connections run without BEGIN already
    return connection


# Money in minor units. Validation allows up to 10^12, past PostgreSQL's 32-bit INTEGER;
# SQLite's INTEGER is 64-bit already, and declaring it so spares rebuilding its tables.
MoneyAmount = BigInteger().with_variant(Integer(), "sqlite")
