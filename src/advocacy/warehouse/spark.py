"""A local (or configured) SparkSession wrapped as an Ibis PySpark backend, for reading only."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

from advocacy.errors import UserError

#: Session settings the engine relies on (DESIGN §11); `conf` may add to them, not weaken them.
REQUIRED_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",  # timestamps are naive UTC everywhere
    "spark.sql.ansi.enabled": "true",  # Spark 4's default: x/0 and bad casts fail loudly
}

#: Defaults for any session; `conf` may override them.
DEFAULT_CONF: dict[str, str] = {
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",  # fast toPandas of the aggregates
}

#: Defaults for a local session (`local[N]`): the driver on loopback, no UI, and small shuffles
#: without adaptive re-planning, which costs more than it saves on one machine's data.
LOCAL_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",  # the default 200 tasks per shuffle dwarf local data
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
}


def spark_conf(master: str | None, conf: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The settings `connect_spark` applies: defaults for a new session (none for an existing
    one, `master=None`), then `conf`, then the required ones."""
    merged = {} if master is None else dict(DEFAULT_CONF)
    if master is not None and master.startswith("local"):
        merged.update(LOCAL_CONF)
    merged.update({str(k): _conf_value(v) for k, v in (conf or {}).items()})
    for key, value in REQUIRED_CONF.items():
        if merged.get(key, value).lower() != value.lower():
            raise UserError(f"[source] conf {key} = {merged[key]} is not supported: use {value}")
        merged[key] = value
    return merged


def connect_spark(
    *,
    master: str = "local[2]",
    app_name: str = "advocacy",
    conf: Mapping[str, Any] | None = None,
    log_level: str = "ERROR",
    session: Any = None,
) -> Any:
    """An Ibis PySpark backend over a SparkSession: `session`, the running one, or a new one.

    The session runs in UTC with ANSI mode on; a local one also with small shuffles and no UI.
    Spark is only read from: the product never writes to it. Example::

        con = connect_spark()                       # local[2]
        con = connect_spark(conf={"spark.sql.shuffle.partitions": "64"})
        con = connect_spark(session=spark)          # a notebook's session
    """
    settings = spark_conf(None if session is not None else master, conf)
    if session is None:
        session = _start(master, app_name, settings)
    for key, value in settings.items():
        _set_runtime(session, key, value)
    session.sparkContext.setLogLevel(log_level)
    # pyspark 4.x warns on every conversion to pandas 3 that it does not fully support it yet.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    return _caching_backend()().connect(session)


def _start(master: str, app_name: str, settings: dict[str, str]) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError("reading from Spark needs pyspark: pip install pyspark") from None
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # a missing Java or a bad master surfaces here
        raise UserError(f"could not start Spark ({master}): {exc}") from None


@functools.cache
def _caching_backend() -> type[Any]:
    """Ibis's PySpark backend, made to register in-memory tables before caching an expression.

    Ibis 12's PySpark `_create_cached_table` compiles and runs the query without the pre-execute
    hooks that register memtables, so `.cache()` of any expression over an `ibis.memtable` (the
    engine's calendar) fails with TABLE_OR_VIEW_NOT_FOUND; every other backend registers them.
    """
    import ibis
    from ibis.backends.pyspark import Backend

    ibis.load_backend("pyspark")  # registers `ibis.options.pyspark`, which compiling needs

    class CachingBackend(Backend):  # type: ignore[misc]
        def _create_cached_table(self, name: str, expr: Any) -> Any:
            self._run_pre_execute_hooks(expr)
            return super()._create_cached_table(name, expr)

    return CachingBackend


def _set_runtime(session: Any, key: str, value: str) -> None:
    """Apply a setting to an already running session where Spark allows it (runtime settings)."""
    if session.conf.isModifiable(key):
        session.conf.set(key, value)


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise UserError(f"[source] conf values must be strings, numbers or booleans, not {value!r}")
