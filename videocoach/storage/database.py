"""The database connection, on SQLAlchemy Core 2.x: SQLite (the embedded default, a file in the data directory) or
PostgreSQL (``VIDEOCOACH_DATABASE_URL=postgresql+psycopg://…``), one code path.

The store's parts write plain SQL with ``?`` placeholders in the subset both engines share (``INSERT … ON CONFLICT``,
``RETURNING``); it is run through ``sqlalchemy.text`` with named parameters.  Rows answer by column name and by index.

SQLite: the driver's own transaction handling is turned off on connect (SQLAlchemy's documented pysqlite recipe) so
that a write transaction starts with ``BEGIN IMMEDIATE`` and writers queue on the lock instead of failing later.
PostgreSQL: ``lesson_lock`` is a session advisory lock, which the server releases when a killed worker's connection
drops, on any machine.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine


class Row:
    """One result row: ``row["column"]`` or ``row[0]``, like ``sqlite3.Row``."""

    __slots__ = ("_values", "_index")

    def __init__(self, values: tuple, index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key]] if isinstance(key, str) else self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class Result:
    """A finished statement: its rows (read at once; every query here is small) and its row count."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows


@functools.lru_cache(maxsize=1024)
def _named(sql: str) -> str:
    """``?`` placeholders (outside quoted literals) become ``:p0``, ``:p1`` …; a literal colon is escaped."""
    out, n, quoted = [], 0, False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            out.append(f":p{n}")
            n += 1
        elif ch == ":":
            out.append("\\:")
        else:
            out.append(ch)
    return "".join(out)


def _params(params: Sequence[Any] | None) -> dict[str, Any]:
    return {f"p{i}": v for i, v in enumerate(params or ())}


def _run(conn: Connection, sql: str, params: Sequence[Any] | None) -> Result:
    res = conn.execute(text(_named(sql)), _params(params))
    if res.returns_rows:
        index = {k: i for i, k in enumerate(res.keys())}
        return Result([Row(tuple(r), index) for r in res.fetchall()], res.rowcount)
    return Result([], res.rowcount)


class Tx:
    """A connection inside one transaction (what ``Database.transaction`` yields)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Result:
        return _run(self.conn, sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [_params(r) for r in rows]
        if batch:
            self.conn.execute(text(_named(sql)), batch)


def sqlite_url(path: object) -> str:
    return f"sqlite:///{path}"


class Database:
    """An engine plus the two ways the store uses it: one statement on its own, or a write transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite or postgresql+psycopg")
        if self.dialect == "sqlite":
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_connect)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=8)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Result:
        """One statement in its own short transaction (a read, or a write that needs no other)."""
        with self.engine.connect() as conn:
            result = _run(conn, sql, params)
            conn.commit()
            return result

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN (IMMEDIATE on SQLite) … COMMIT, or ROLLBACK on any exception."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield Tx(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextlib.contextmanager
    def advisory_lock(self, name: str) -> Iterator[bool]:
        """PostgreSQL only: a session advisory lock on ``name``, tried once; yields whether it was taken.  Held on
        its own connection until the block ends; a killed process's lock goes with its connection."""
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self.engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_connect(dbapi_connection, connection_record) -> None:  # noqa: ARG001 - SQLAlchemy's event signature
    dbapi_connection.isolation_level = None  # we issue BEGIN IMMEDIATE ourselves
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000",
                   "secure_delete=ON"):  # deleted rows are overwritten, not left in free pages
        dbapi_connection.execute(f"PRAGMA {pragma}")
