"""Backend parity fixtures: one session-scoped `backend` over DuckDB, PostgreSQL and Spark.

Each engine is tagged with a marker (`postgres`, `spark`) and skipped when it is not available
locally, but a failure when CI is set (`tests/conftest.py` `in_ci`). Engine differences live on
the config objects in `engines.py`; a known gap is applied as a strict expected failure naming
the exception (`expect_gap`).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from advocacy.demo import GeneratedCompany, generate
from advocacy.metrics.source import Source
from tests.backends.engines import (
    DuckDBEngine,
    EngineConfig,
    PostgresEngine,
    SparkEngine,
)
from tests.conftest import in_ci

#: One task per shuffle: the test datasets are tiny (adaptive execution is already off locally).
SPARK_TEST_CONF = {"spark.sql.shuffle.partitions": "1"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: needs pyspark and Java (a local SparkSession)")
    # pyspark 4.3 warns on every pandas conversion that it does not fully support pandas 3, and
    # its Arrow conversion still passes pandas 3's deprecated `copy=` (a DeprecationWarning that
    # it turns into a failed toPandas when warnings are errors).
    for line in (
        "ignore:PySpark does not yet fully support pandas:FutureWarning",
        "ignore:The copy keyword is deprecated:DeprecationWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message} (CI is set, so Spark tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def spark_connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local SparkSession for the whole test session (starting one takes ~10-20 s)."""
    try:
        importlib.import_module("pyspark")
    except ImportError:
        _unavailable("pyspark is not installed (pip install -e '.[dev]')")
    if (
        shutil.which("java") is None
        or subprocess.run(["java", "-version"], capture_output=True, check=False).returncode
    ):
        _unavailable("Java is not installed (Spark needs a JRE 17+)")
    from advocacy.warehouse import connect_spark

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    conf = {**SPARK_TEST_CONF, "spark.sql.warehouse.dir": str(warehouse)}
    con = connect_spark(master="local[2]", app_name="advocacy-tests", conf=conf, log_level="OFF")
    yield con
    con._session.stop()


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("duckdb", id="duckdb"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("spark", id="spark", marks=pytest.mark.spark),
    ],
)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineConfig]:
    folder = tmp_path_factory.mktemp(f"backend-{request.param}")
    engine: EngineConfig
    if request.param == "postgres":
        engine = PostgresEngine(folder, request.getfixturevalue("postgres_server_url"))
    elif request.param == "spark":
        engine = SparkEngine(request.getfixturevalue("spark_connection"))
    else:
        engine = DuckDBEngine(folder)
    yield engine
    engine.close()


def expect_gap(request: pytest.FixtureRequest, backend: EngineConfig, key: str) -> None:
    """Mark the running test a strict expected failure if `key` is a known gap of the backend."""
    gap = backend.known_gaps.get(key)
    if gap is None:
        return
    raises = gap.raises
    if isinstance(raises, str):
        module, _, name = raises.rpartition(".")
        raises = getattr(importlib.import_module(module), name)
    request.applymarker(pytest.mark.xfail(strict=True, raises=raises, reason=gap.reason))


@pytest.fixture(scope="session")
def company(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    """The demo company at a small scale: about 200 accounts and 20k rows."""
    return generate(tmp_path_factory.mktemp("company") / "data", scale=0.02, seed=5)


@pytest.fixture(scope="session")
def reference(
    company: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    """The company imported into a DuckDB store: the rows every other engine must reproduce."""
    engine = DuckDBEngine(tmp_path_factory.mktemp("reference"))
    yield engine.import_company(company)
    engine.close()
