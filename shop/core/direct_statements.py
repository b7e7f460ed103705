"""Prebuilt statements run on a connection of each thread's own, outside SQLAlchemy's pool.

The catalog's freshness facts are read on every shared read, warm or cold, and on every
revalidation: through SQLAlchemy's pool and execution context that one `SELECT` cost about
0.2 ms of CPU on PostgreSQL, four times the driver's own work (pool check-out and check-in,
the autocommit switch and its reset, the result's metadata). `DirectStatements` compiles a
statement once per dialect and runs it straight on the DBAPI connection.

Checkout's statements take the same road on PostgreSQL: its reads, and its writes that are one
statement each (a data-modifying statement is a transaction of its own in autocommit, so it
needs no BEGIN and COMMIT round trips either). A write belongs here only when it is complete
in one statement; work of several statements takes a transaction on the engine.

With psycopg the statement goes straight to libpq (`pgconn.exec_prepared`, prepared once per
connection under a name of its own; `exec_params`, never prepared, when the connection says
so, as behind PgBouncer in transaction mode: `shop.core.db`), its parameters dumped and its
row loaded by psycopg's `Transformer`, as a cursor does: the cursor's own bookkeeping around
that one call (query conversion, the prepared-statement manager, the wait loop, the result's
description) cost about half of the read's CPU, and every full answer of a shared read pays
it.

Nothing is remembered between reads: every call asks the database, so a change made by any
process is seen by the next read of every other. Each thread keeps one connection in
autocommit (a lone statement sees one snapshot); after a fork the child opens its own and
never touches, nor closes, what it inherited (closing would end the parent's session). Errors
come out as SQLAlchemy's exceptions (`sqlalchemy.exc.OperationalError` when the database is
down, ...), so the app's error handlers answer them as for any other query, and a broken
connection is replaced on the next call.
"""

from __future__ import annotations

import collections
import copy
import itertools
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Executable, Select

_NAMES = itertools.count(1)


def _on_libpq(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


def _numbered(dialect: Any) -> Any:
    """The engine's dialect (as it knows the server) with libpq's $1, $2, ... parameters."""
    numbered = copy.copy(dialect)
    numbered.paramstyle, numbered.positional = "numeric_dollar", True
    return numbered


class _Compiled:
    """A statement's SQL for the driver, its constant parameters and result processors."""

    def __init__(self, statement: Executable, engine: Engine) -> None:
        dialect = engine.dialect
        # libpq numbers its parameters ($1, $2, ...) where psycopg's cursor names them.
        compiled = statement.compile(dialect=_numbered(dialect) if _on_libpq(engine)
                                     else dialect)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # A column default SQLAlchemy computes per execution would go out as NULL here.
            raise ValueError("a direct statement must be given every value it writes: "
                             "pass the columns with Python-side defaults as parameters")
        self.sql = str(compiled)
        self.sql_bytes = self.sql.encode()
        # Unique per statement in this process: a prepared name never means two statements.
        self.name = f"peakshop_reader_{next(_NAMES)}".encode()
        self.constants = dict(compiled.params)
        self.positions = compiled.positiontup if compiled.positional else None
        # What SQLAlchemy would do to a value before the driver sees it (JSON to text, ...):
        # only the few typed parameters that need it have one.
        self.binders: dict[str, Callable[[Any], Any]] = dict(compiled._bind_processors)
        columns = (statement.selected_columns if isinstance(statement, Select)
                   else statement.exported_columns)  # a write's RETURNING columns
        self.processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in columns]
        self.unprocessed = all(process is None for process in self.processors)
        # Rows read by position or by column name, as SQLAlchemy's rows are.
        self.row_type = collections.namedtuple("Row", [column.key for column in columns],
                                               rename=True)

    def parameters(self, given: Mapping[str, Any]) -> Any:
        merged = {**self.constants, **given}
        for name, bind in self.binders.items():
            if name in merged:
                merged[name] = bind(merged[name])
        if self.positions is None:
            return merged
        return tuple(merged[name] for name in self.positions)

    def row(self, raw: tuple) -> tuple:
        if self.unprocessed:  # the driver's values are SQLAlchemy's already
            return self.row_type._make(raw)
        return self.row_type._make(value if process is None else process(value)
                                   for process, value in zip(self.processors, raw,
                                                             strict=True))


class DirectStatements:
    """Runs prebuilt statements on per-thread connections to `engine`'s database made by
    `connect` (a DBAPI connection in autocommit)."""

    def __init__(self, engine: Engine, connect: Callable[[], Any]) -> None:
        self.engine = engine
        self.connect = connect
        self.dbapi = engine.dialect.dbapi
        # By the statement itself (held, so never confused with a later one at its address).
        self._compiled: dict[Executable, _Compiled] = {}
        self._connections: dict[int, Any] = {}
        self.on_libpq = _on_libpq(engine)
        # Per connection (by id, while it is in _connections): its Transformer and the names
        # of the statements prepared on it.
        self._libpq_states: dict[int, _LibpqState] = {}
        self._pid = os.getpid()
        # Connections of the parent process: kept referenced, never closed, never used.
        self._inherited: list[Any] = []
        self._lock = threading.Lock()
        # Statements run, for the benchmarks (SQLAlchemy's events do not see them).
        self.executed = 0

    def first(self, statement: Executable, parameters: Mapping[str, Any]) -> tuple | None:
        """The statement's first row (result types as SQLAlchemy gives them), or None."""
        rows = self._run(statement, parameters, first_only=True)
        return rows[0] if rows else None

    def rows(self, statement: Executable, parameters: Mapping[str, Any]) -> list[tuple]:
        """Every row of the statement (a write's: what its RETURNING gives)."""
        return self._run(statement, parameters, first_only=False)

    def _run(self, statement: Executable, parameters: Mapping[str, Any], *,
             first_only: bool) -> list[tuple]:
        self.executed += 1
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = _Compiled(statement, self.engine)
        values = compiled.parameters(parameters)
        connection = self._connection()
        try:
            if self.on_libpq:
                raw = self._rows_on_libpq(connection, compiled, values, first_only)
            else:
                cursor = connection.cursor()
                try:
                    cursor.execute(compiled.sql, values)
                    raw = cursor.fetchmany(1) if first_only else cursor.fetchall()
                finally:
                    cursor.close()
        except self.dbapi.Error as error:
            broken = isinstance(error, self.dbapi.OperationalError | self.dbapi.InterfaceError
                                ) or (self.on_libpq and connection.broken)
            if broken:
                self._forget(connection)
                # libpq reports a server that died mid-statement as a plain DatabaseError
                # (error_from_result on a connection now BAD): it is a lost connection all
                # the same, which callers retry and the app answers 503, never 500.
                raise exc.OperationalError(compiled.sql, None, error, hide_parameters=True,
                                           connection_invalidated=True) from error
            raise exc.DBAPIError.instance(compiled.sql, None, error, self.dbapi.Error,
                                          hide_parameters=True,
                                          connection_invalidated=broken,
                                          dialect=self.engine.dialect) from error
        return [compiled.row(row) for row in raw]

    def _rows_on_libpq(self, connection: Any, compiled: _Compiled, values: Any,
                       first_only: bool) -> list[tuple]:
        from psycopg import errors, pq

        state = self._libpq_states.get(id(connection))
        if state is None:
            state = self._libpq_states[id(connection)] = _LibpqState(connection)
        transformer = state.transformer
        parameters = transformer.dump_sequence(values, state.formats(len(values)))
        pgconn = connection.pgconn
        if connection.prepare_threshold is None:  # told never to prepare (PgBouncer)
            result = pgconn.exec_params(compiled.sql_bytes, parameters)
        else:
            if compiled.name not in state.prepared:
                prepared = pgconn.prepare(compiled.name, compiled.sql_bytes)
                if prepared.status != pq.ExecStatus.COMMAND_OK:
                    raise errors.error_from_result(prepared, encoding=connection.info.encoding)
                state.prepared.add(compiled.name)
            result = pgconn.exec_prepared(compiled.name, parameters)
        if result.status == pq.ExecStatus.COMMAND_OK:  # a write without RETURNING
            return []
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise errors.error_from_result(result, encoding=connection.info.encoding)
        count = min(result.ntuples, 1) if first_only else result.ntuples
        if not count:
            return []
        transformer.set_pgresult(result)
        return transformer.load_rows(0, count, tuple)

    def _connection(self) -> Any:
        if os.getpid() != self._pid:
            self._after_fork()
        thread = threading.get_ident()
        connection = self._connections.get(thread)
        if connection is None:
            try:
                connection = self.connect()
            except self.dbapi.Error as error:
                raise exc.DBAPIError.instance(None, None, error, self.dbapi.Error,
                                              hide_parameters=True,
                                              dialect=self.engine.dialect) from error
            with self._lock:
                self._connections[thread] = connection
        return connection

    def _forget(self, connection: Any) -> None:
        with self._lock:
            for thread, kept in list(self._connections.items()):
                if kept is connection:
                    del self._connections[thread]
            self._libpq_states.pop(id(connection), None)
        try:
            connection.close()
        except self.dbapi.Error:
            pass  # already broken: closing is only tidying up

    def _after_fork(self) -> None:
        with self._lock:
            self._inherited.extend(self._connections.values())
            self._connections.clear()
            self._libpq_states.clear()
            self._pid = os.getpid()

    def forget_inherited(self) -> None:
        """In a forked child: stop using the parent's connections without closing them."""
        self._after_fork()

    def close(self) -> None:
        """Close this process's connections (the parent's are left alone)."""
        if os.getpid() != self._pid:
            self._after_fork()
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
            self._libpq_states.clear()
        for connection in connections:
            try:
                connection.close()
            except self.dbapi.Error:
                pass


class _LibpqState:
    """What reading on one psycopg connection keeps: psycopg's Transformer (its adapters,
    as a cursor of that connection has them) and the statements prepared on it."""

    def __init__(self, connection: Any) -> None:
        from psycopg.adapt import Transformer

        self.transformer = Transformer(connection)
        self.prepared: set[bytes] = set()
        self._formats: dict[int, list] = {}

    def formats(self, count: int) -> list:
        from psycopg.adapt import PyFormat

        found = self._formats.get(count)
        if found is None:
            found = self._formats[count] = [PyFormat.TEXT] * count
        return found
