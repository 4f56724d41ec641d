"""The engines under test, one config object each (as in ibis's backend test configs).

Each engine loads a dataset the way a user's data reaches it and returns a `Source`: DuckDB and
PostgreSQL through the real import path into a store; Spark as renamed warehouse tables read back
through the `[source]` mapping in `warehouse.toml` (so is the demo company on DuckDB, as a
read-only warehouse file: its store import is the suite's reference). Known gaps are data on the
config (a test key -> the exception it raises), applied by the tests as strict expected failures.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from advocacy.demo import GeneratedCompany
from advocacy.metrics.source import Source
from advocacy.schema import TABLES
from advocacy.warehouse import (
    SourceConfig,
    check_source,
    connect_backend,
    mapped_source,
    parse_source_config,
)
from advocacy.workspace import Workspace, init_workspace

MAPPING_TEMPLATE = Path(__file__).parent / "warehouse.toml"


@dataclass(frozen=True)
class Gap:
    """A known engine gap: the test raises `raises` on this backend (a strict expected failure)."""

    raises: type[BaseException] | str
    reason: str


def warehouse_config(prefix: str, backend: str = "spark") -> SourceConfig:
    """The test mapping with its tables under `prefix` (a database "wh." or a view prefix)."""
    text = MAPPING_TEMPLATE.read_text(encoding="utf-8").replace("{prefix}", prefix)
    section = tomllib.loads(text)["source"]
    return parse_source_config({**section, "backend": backend})


def renamed(table: str, columns: list[str], config: SourceConfig) -> list[str]:
    """Physical column names of a canonical table's columns under the mapping."""
    mapped = config.tables[table].columns
    return [mapped.get(c, c) for c in columns]


class EngineConfig:
    """One engine: how a dataset is loaded into it, and what it is known not to do yet."""

    name: ClassVar[str] = ""
    #: Test key ("case:NAME" or "suite:METRIC") -> the gap it hits on this engine.
    known_gaps: ClassVar[Mapping[str, Gap]] = {}

    def load_case(self, key: str, tables: dict[str, pa.Table]) -> Source:
        raise NotImplementedError

    def load_company(self, company: GeneratedCompany) -> Source:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections and drop what was created."""


class StoreEngine(EngineConfig):
    """An operational store (DuckDB file or PostgreSQL schema), filled by `import_files`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.workspaces: list[Workspace] = []

    def url(self, key: str) -> str | None:
        return None

    def load_case(self, key: str, tables: dict[str, pa.Table]) -> Source:
        files = self.folder / key / "files"
        files.mkdir(parents=True)
        ws = self._workspace(key)
        for name, table in tables.items():
            if table.num_rows:
                path = files / f"{name}.parquet"
                pq.write_table(table, path)
                _imported_cleanly(ws, name, path)
        return Source(ws.store.ibis())

    def load_company(self, company: GeneratedCompany) -> Source:
        return self.import_company(company)

    def import_company(self, company: GeneratedCompany) -> Source:
        ws = self._workspace("company")
        for table, parts in company.files.items():
            _imported_cleanly(ws, table, parts[0].parent)
        return Source(ws.store.ibis())

    def _workspace(self, key: str) -> Workspace:
        ws = init_workspace(self.folder / key / "ws", db=self.url(key))
        self.workspaces.append(ws)
        return ws

    def close(self) -> None:
        for ws in self.workspaces:
            ws.close()


def _imported_cleanly(ws: Workspace, table: str, path: Path) -> None:
    """Import a file; a case's rows must all land, on known accounts (a typo fails loudly)."""
    for report in ws.import_files([path], table=table):
        assert not report.rejected, f"{table}: rows rejected:\n{ws.rejects().to_string()}"
        assert not report.orphan, f"{table}: {report.orphan} rows name an unknown account"
        assert not report.conflicting, f"{table}: {report.conflicting} conflicting rows"


class DuckDBEngine(StoreEngine):
    """Cases through the import path; the demo company as a read-only DuckDB *warehouse* file
    with renamed tables, opened through `[source] backend = "duckdb"` (the store import of the
    same company is the suite's reference, so comparing it with itself would prove nothing).
    """

    name = "duckdb"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.cons: list[Any] = []

    def load_company(self, company: GeneratedCompany) -> Source:
        path = self.folder / "warehouse.duckdb"
        config = warehouse_config("wh.", backend="duckdb")
        _write_duckdb_warehouse(path, company, config)
        config = SourceConfig(config.backend, {"path": str(path)}, config.tables)
        backend = connect_backend(config)
        self.cons.append(backend)
        source = mapped_source(backend, config)
        check_source(source)
        return source

    def close(self) -> None:
        super().close()
        for con in self.cons:
            con.disconnect()


def _write_duckdb_warehouse(path: Path, company: GeneratedCompany, config: SourceConfig) -> None:
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE SCHEMA wh")
        for name in TABLES:
            parts = f"read_parquet('{company.directory / name / '*.parquet'}')"
            names = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM {parts}").fetchall()]
            physical = renamed(name, names, config)
            select = ", ".join(f'"{c}" AS "{p}"' for c, p in zip(names, physical, strict=True))
            con.execute(f"CREATE TABLE {config.tables[name].table} AS SELECT {select} FROM {parts}")


class PostgresEngine(StoreEngine):
    """A fresh schema per dataset on the test server, dropped at the end of the session."""

    name = "postgres"

    def __init__(self, folder: Path, server_url: str) -> None:
        super().__init__(folder)
        self.server_url = server_url
        self.schemas: list[str] = []

    def url(self, key: str) -> str | None:
        schema = f"advocacy_parity_{uuid.uuid4().hex[:10]}"
        self.schemas.append(schema)
        sep = "&" if "?" in self.server_url else "?"
        return f"{self.server_url}{sep}schema={schema}"

    def close(self) -> None:
        super().close()
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class SparkEngine(EngineConfig):
    """A local SparkSession; data lands in renamed tables the product only reads."""

    name = "spark"
    known_gaps: ClassVar[Mapping[str, Gap]] = {}

    def __init__(self, con: Any) -> None:
        self.con = con
        self.session = con._session
        self.views: list[str] = []

    def load_case(self, key: str, tables: dict[str, pa.Table]) -> Source:
        """Per-case temporary views `KEY__<physical name>`, renamed as the mapping says."""
        config = warehouse_config(f"{key}__")
        for name, table in tables.items():
            physical = config.tables[name].table
            frame = self.session.createDataFrame(
                table.rename_columns(renamed(name, table.column_names, config))
            )
            frame.createOrReplaceTempView(physical)
            self.views.append(physical)
        return self._source(config)

    def load_company(self, company: GeneratedCompany) -> Source:
        """Catalog tables in a database `wh` (saved as Parquet), read from the demo's Parquet."""
        config = warehouse_config("wh.")
        self.session.sql("CREATE DATABASE IF NOT EXISTS wh")
        for name in TABLES:
            physical = config.tables[name].table
            frame = self.session.read.parquet(str(company.directory / name))
            frame = frame.toDF(*renamed(name, frame.columns, config))
            frame.write.mode("overwrite").saveAsTable(physical)
        return self._source(config)

    def _source(self, config: SourceConfig) -> Source:
        source = mapped_source(self.con, config)
        check_source(source)
        return source

    def close(self) -> None:
        for view in self.views:
            self.session.catalog.dropTempView(view)
        self.session.sql("DROP DATABASE IF EXISTS wh CASCADE")
