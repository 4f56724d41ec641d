"""The operational store: a DuckDB file or PostgreSQL, written through the native driver.

Reads go through Ibis (`Store.ibis`); every write runs inside `Store.transaction()`, one
explicit transaction on its own connection, so concurrent writers in one process never share
transaction state.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlencode, urlparse, urlunparse

import duckdb
import pyarrow as pa

from advocacy.errors import UserError, WorkspaceLockedError

T = TypeVar("T")
_LOCK_PID = re.compile(r"PID (\d+)")


class Dialect(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"


@dataclass
class Tx:
    """One open transaction. SQL uses `?` placeholders on every dialect."""

    dialect: Dialect
    cursor: Any

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self._sql(sql, params), list(params) if params else None)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.execute(sql, params)
        return list(self.cursor.fetchall())

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.execute(sql, params)
        row = self.cursor.fetchone()
        return tuple(row) if row is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self._sql(sql, rows[0]), [list(r) for r in rows])

    def _sql(self, sql: str, params: Sequence[Any]) -> str:
        if self.dialect is Dialect.POSTGRES and params:
            return sql.replace("%", "%%").replace("?", "%s")
        return sql


def _duckdb_path(url: str) -> str:
    path = url.removeprefix("duckdb://")
    if path.startswith("/") and path != "/:memory:":
        return path
    return ":memory:" if path in ("", "/:memory:", ":memory:") else path


def _pg_parts(url: str) -> tuple[str, str | None]:
    """The libpq URL without our own `schema=` parameter, and that schema."""
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    schema = query.pop("schema", [None])[0]
    clean = parsed._replace(
        scheme="postgresql", query=urlencode({k: v[0] for k, v in query.items()})
    )
    return urlunparse(clean), schema


PG_OPTIONS = "-c TimeZone=UTC -c client_encoding=UTF8"


class Store:
    """A handle on the operational store; cheap to keep open for the life of a process."""

    def __init__(self, url: str, *, memory_limit: str = "") -> None:
        self.url = url
        self.memory_limit = memory_limit
        self.dialect = (
            Dialect.POSTGRES if url.startswith(("postgres", "postgresql")) else (Dialect.DUCKDB)
        )
        self._lock = threading.Lock()
        self._ibis: Any = None
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._pg_url, self.schema = (
            _pg_parts(url)
            if self.dialect is Dialect.POSTGRES
            else (
                "",
                None,
            )
        )
        if self.dialect is Dialect.DUCKDB:
            self._duck = _open_duckdb(_duckdb_path(url), memory_limit)
        else:
            self._ensure_pg_schema()

    # -- connections --------------------------------------------------------------------------
    def _pg_connect(self) -> Any:
        import psycopg

        # UTF8 whatever the database's encoding: a SQL_ASCII database would hand back bytes.
        options = PG_OPTIONS
        if self.schema:
            options += f" -c search_path={self.schema}"
        try:
            return psycopg.connect(self._pg_url, options=options)
        except psycopg.OperationalError as exc:
            raise UserError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from None

    def _ensure_pg_schema(self) -> None:
        if not self.schema:
            return
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", self.schema):
            raise UserError(f"schema name '{self.schema}' must be lower-case letters, digits, _")
        conn = self._pg_connect()
        with conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        conn.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection of its own on the store (its own temp tables), in UTC."""
        if self._duck is None:
            raise UserError("this store is not DuckDB")
        cur = self._duck.cursor()
        cur.execute("SET TimeZone='UTC'")
        cur.execute("SET enable_progress_bar=false")
        return cur

    @contextmanager
    def transaction(self, cursor: duckdb.DuckDBPyConnection | None = None) -> Iterator[Tx]:
        """An explicit transaction: committed on success, rolled back on any exception.

        DuckDB: on `cursor` when given (it stays open, with whatever temp tables it was
        prepared with before the transaction), else on a new one.
        """
        if self.dialect is Dialect.DUCKDB:
            cur = cursor or self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield Tx(self.dialect, cur)
                cur.execute("COMMIT")
            except BaseException:
                _rollback(cur)
                raise
            finally:
                if cursor is None:
                    cur.close()
        else:
            conn = self._pg_connect()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield Tx(self.dialect, cur)
            finally:
                conn.close()

    def run(
        self, work: Callable[[Tx], T], *, attempts: int = 6,
        cursor: duckdb.DuckDBPyConnection | None = None,
    ) -> T:  # fmt: skip
        """Run `work` in a transaction, retrying DuckDB write-write conflicts with backoff."""
        for attempt in range(attempts):
            try:
                with self.transaction(cursor) as tx:
                    return work(tx)
            except (duckdb.TransactionException, duckdb.ConstraintException) as exc:
                if not _retryable(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.02 * 2**attempt)
        raise AssertionError("unreachable")

    def ibis(self) -> Any:
        """The Ibis backend over this store (shared; reads only)."""
        with self._lock:
            if self._ibis is None:
                self._ibis = self._connect_ibis()
            return self._ibis

    def _connect_ibis(self) -> Any:
        import ibis

        if self.dialect is Dialect.DUCKDB:
            assert self._duck is not None
            return ibis.duckdb.from_connection(self._duck)
        parsed = urlparse(self._pg_url)
        return ibis.postgres.connect(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            database=(parsed.path or "/").lstrip("/") or None,
            options=PG_OPTIONS + (f" -c search_path={self.schema}" if self.schema else ""),
        )

    def duckdb_connection(self) -> duckdb.DuckDBPyConnection:
        """The embedded store's connection (DuckDB only), for work inside its own transactions."""
        if self._duck is None:
            raise UserError("this store is not DuckDB")
        return self._duck

    # -- bulk loading -------------------------------------------------------------------------
    def copy_arrow(self, tx: Tx, table: str, data: pa.Table) -> None:
        """Append an Arrow table to `table` inside `tx` (Postgres: COPY; DuckDB: a scan)."""
        if data.num_rows == 0:
            return
        cols = ", ".join(f'"{c}"' for c in data.column_names)
        if self.dialect is Dialect.DUCKDB:
            tx.cursor.register("_copy_src", data)
            try:
                tx.cursor.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM _copy_src')
            finally:
                tx.cursor.unregister("_copy_src")
            return
        _copy_csv_to_postgres(tx, table, cols, data)

    def close(self) -> None:
        with self._lock:
            if self._ibis is not None and self.dialect is Dialect.POSTGRES:
                self._ibis.disconnect()
            self._ibis = None
            if self._duck is not None:
                self._duck.close()
                self._duck = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rollback(cur: Any) -> None:
    """Roll back, unless DuckDB already ended the transaction (a failed COMMIT does)."""
    with suppress(duckdb.TransactionException):
        cur.execute("ROLLBACK")


def _retryable(exc: Exception) -> bool:
    """Write-write conflicts, and a concurrent commit of the same new keys, succeed on retry."""
    text = str(exc).lower()
    return "conflict" in text or "duplicate key" in text


def _copy_csv_to_postgres(tx: Tx, table: str, cols: str, data: pa.Table) -> None:
    """Stream rows to Postgres COPY as CSV written by Arrow (no per-row Python)."""
    import io

    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    with tx.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN WITH (FORMAT csv)') as copy:
        view = buf.getbuffer()
        for start in range(0, len(view), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


def _open_duckdb(path: str, memory_limit: str = "") -> duckdb.DuckDBPyConnection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(path)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = _LOCK_PID.search(text)
            who = f"process {pid.group(1)}" if pid else "another process"
            raise WorkspaceLockedError(
                f"the workspace database {path} is in use by {who} (DuckDB allows one process "
                "at a time). If that is `advocacy serve`, stop it or use its API; for several "
                "concurrent users, use PostgreSQL (--db postgresql://…)."
            ) from None
        raise UserError(f"cannot open {path}: {text}") from None
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")  # validated by Settings
    return con
