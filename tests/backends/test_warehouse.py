"""`[source]` parsing, connecting read-only and checking a mapping (advocacy.warehouse)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import ibis
import psycopg
import pytest

from advocacy.config import load_settings
from advocacy.errors import UserError
from advocacy.metrics.engine import query
from advocacy.metrics.source import TableMap
from advocacy.warehouse import (
    SourceBackend,
    SourceConfig,
    check_source,
    connect_backend,
    connect_spark,
    load_source_config,
    mapped_source,
    parse_source_config,
    warehouse_source,
)
from advocacy.warehouse.spark import spark_conf
from tests.backends.cases import CASES_DIR, check, load_case
from tests.backends.engines import renamed, warehouse_config

EXAMPLE = """
[calendar]
fiscal_start_month = 4

[source]
backend = "spark"
[source.tables.survey_responses]
table = "crm.nps_answers"
columns = { response_id = "answer_id", account_id = "acct", score = "nps_score" }
"""


def _parse(tables: dict[str, Any], **options: Any) -> SourceConfig:
    return parse_source_config({"backend": "duckdb", **options, "tables": tables})


def test_the_documented_example_parses(tmp_path: Path) -> None:
    (tmp_path / "advocacy.toml").write_text(EXAMPLE, encoding="utf-8")
    config = load_source_config(tmp_path)
    assert config == SourceConfig(
        SourceBackend.SPARK,
        {},
        {
            "survey_responses": TableMap(
                "crm.nps_answers",
                {"response_id": "answer_id", "account_id": "acct", "score": "nps_score"},
            )
        },
    )
    # The workspace settings still load with a [source] section beside them.
    assert load_settings(tmp_path).calendar.fiscal_start_month == 4


def test_no_source_section_means_the_store(tmp_path: Path) -> None:
    assert load_source_config(tmp_path) is None
    (tmp_path / "advocacy.toml").write_text("[calendar]\ntimezone = 'UTC'\n", encoding="utf-8")
    assert load_source_config(tmp_path) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "needs a backend: one of spark, postgres, duckdb"),
        ({"backend": "oracle"}, "backend must be one of spark, postgres, duckdb, not 'oracle'"),
        ({"backend": "spark", "url": "x"}, "unknown key(s) in [source] for backend spark: url"),
        ({"backend": "spark", "conf": "x=1"}, "[source] conf must be a table"),
        ({"backend": "duckdb", "tables": {"nps": {}}}, "'nps' is not a canonical table"),
        (
            {"backend": "duckdb", "tables": {"survey_responses": {"columns": {"rating": "r"}}}},
            "'rating' is not a column of survey_responses",
        ),
        (
            {"backend": "duckdb", "tables": {"revenue": {"table": "a b"}}},
            "table = 'a b' is not a table name",
        ),
        (
            {"backend": "duckdb", "tables": {"revenue": {"tabel": "x"}}},
            "unknown key(s) tabel",
        ),
        (
            {"backend": "duckdb", "tables": {"revenue": {"columns": {"mrr": "m", "month": "m"}}}},
            "mrr and month both map to the column 'm'",
        ),
        (
            {"backend": "duckdb", "tables": {"accounts": {"columns": {"value": "v"}}}},
            "'value' is not a column of accounts",
        ),
    ],
)
def test_mistakes_are_user_errors(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as err:
        parse_source_config(raw)
    assert message in str(err.value)


def test_accounts_take_extra_dimensions() -> None:
    config = _parse({"accounts": {"table": "dim_accounts", "columns": {"csm_tier": "TierName"}}})
    assert config.tables["accounts"] == TableMap("dim_accounts", {"csm_tier": "TierName"})


def test_spark_settings_keep_utc_and_ansi() -> None:
    conf = spark_conf("local[2]", {"spark.sql.shuffle.partitions": 8, "x.flag": True})
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.ansi.enabled"] == "true"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["x.flag"] == "true"
    assert conf["spark.driver.host"] == "127.0.0.1"
    assert "spark.driver.host" not in spark_conf("spark://cluster:7077")
    assert spark_conf(None, {"a.b": 1}) == {
        "a.b": "1",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "true",
    }
    with pytest.raises(UserError, match=r"spark\.sql\.ansi\.enabled"):
        spark_conf("local[2]", {"spark.sql.ansi.enabled": False})


@pytest.mark.spark
def test_an_existing_session_is_wrapped_and_can_cache(spark_connection: Any) -> None:
    """`session=` keeps the session's own settings but UTC and ANSI; `.cache()` sees memtables."""
    session = spark_connection._session
    session.conf.set("spark.sql.session.timeZone", "Europe/Paris")
    con = connect_spark(session=session, log_level="OFF")
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert session.conf.get("spark.sql.shuffle.partitions") == "1"  # the session's own
    session.sql("SELECT 'a' AS k").createOrReplaceTempView("advocacy_one_row")
    calendar = ibis.memtable({"k": ["a", "b"], "n": [1, 2]})
    cached = con.table("advocacy_one_row").join(calendar, "k").cache()
    assert cached.n.sum().execute() == 1
    cached.release()
    session.catalog.dropTempView("advocacy_one_row")


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    """A DuckDB warehouse with one NPS table under its own names, in a schema `crm`."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA crm")
        con.execute(
            "CREATE TABLE crm.nps_answers AS SELECT 'r1' AS answer_id, 'a1' AS acct, "
            "'nps' AS survey, 9.0 AS nps_score, TIMESTAMP '2025-01-02 10:00:00' AS responded_at"
        )
    return path


def _duckdb_config(path: Path, columns: dict[str, str] | None = None) -> SourceConfig:
    mapping = columns or {"response_id": "answer_id", "account_id": "acct", "score": "nps_score"}
    return _parse(
        {"survey_responses": {"table": "crm.nps_answers", "columns": mapping}}, path=str(path)
    )


def test_a_duckdb_file_is_read_through_the_mapping(warehouse_file: Path) -> None:
    source = warehouse_source(_duckdb_config(warehouse_file))
    check_source(source)
    assert source.has("survey_responses")
    rows = source.table("survey_responses").to_pyarrow().to_pylist()
    assert rows == [
        {
            "response_id": "r1",
            "account_id": "a1",
            "survey": "nps",
            "score": 9.0,
            "responded_at": rows[0]["responded_at"],
        }
    ]
    with pytest.raises(duckdb.Error):  # opened read-only
        source.con.raw_sql("CREATE TABLE crm.x AS SELECT 1 AS y")
    source.con.disconnect()


def test_a_relative_duckdb_path_is_under_the_workspace(warehouse_file: Path) -> None:
    config = _parse({}, path="warehouse.duckdb")
    backend = connect_backend(config, workspace=warehouse_file.parent)
    assert "nps_answers" in backend.list_tables(database="crm")
    backend.disconnect()
    with pytest.raises(UserError, match="does not exist"):
        connect_backend(_parse({}, path="missing.duckdb"), workspace=warehouse_file.parent)


def test_check_source_names_every_mismatch(warehouse_file: Path) -> None:
    config = _duckdb_config(warehouse_file, {"response_id": "answerid", "contact_id": "acct"})
    config.tables["revenue"] = TableMap("billing.mrr")
    backend = connect_backend(config)
    with pytest.raises(UserError) as err:
        check_source(mapped_source(backend, config))
    message = str(err.value)
    assert "survey_responses: column 'answerid' not found in 'crm.nps_answers'" in message
    assert "revenue: table 'billing.mrr' not found" in message
    assert "required column 'account_id' is neither mapped nor present" in message
    backend.disconnect()


def test_a_rename_onto_an_existing_column_is_refused(warehouse_file: Path) -> None:
    config = _duckdb_config(warehouse_file, {"survey": "acct"})
    backend = connect_backend(config)
    with pytest.raises(UserError, match="already has a column 'survey'"):
        check_source(mapped_source(backend, config))
    backend.disconnect()


PG_TYPES = {
    "string": "text",
    "timestamp[us]": "timestamp",
    "date32[day]": "date",
    "double": "double precision",
    "int64": "bigint",
    "bool": "boolean",
}


@pytest.fixture
def postgres_schema(postgres_server_url: str) -> Iterator[str]:
    """A scratch schema on the test server standing in for a warehouse, dropped afterwards."""
    schema = f"advocacy_wh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_a_postgres_warehouse_runs_a_case(postgres_server_url: str, postgres_schema: str) -> None:
    """A case's rows under the test mapping's names in a schema, read as `backend = "postgres"`."""
    case = load_case(CASES_DIR / "nps_published_example.yaml")
    config = warehouse_config(f"{postgres_schema}.", backend="postgres")
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        for name, table in case.tables.items():
            physical = renamed(name, table.column_names, config)
            columns = ", ".join(
                f'"{p}" {PG_TYPES[str(t)]}'
                for p, t in zip(physical, table.schema.types, strict=True)
            )
            conn.execute(f"CREATE TABLE {config.tables[name].table} ({columns})")
            marks = ", ".join(["%s"] * len(physical))
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {config.tables[name].table} VALUES ({marks})",
                    [tuple(row.values()) for row in table.to_pylist()],
                )
    config = SourceConfig(config.backend, {"url": postgres_server_url}, config.tables)
    source = warehouse_source(config)
    check_source(source)
    assert source.con.raw_sql("SHOW TimeZone").fetchone()[0] == "UTC"
    check(case, query(source, case.settings, case.request))
    source.con.disconnect()
