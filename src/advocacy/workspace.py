"""A workspace: a folder with `advocacy.toml` and (by default) its DuckDB store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from advocacy.analyses import AnalysisResult
from advocacy.config import CONFIG_NAME, DEFAULT_CONFIG, Settings, load_settings, resolve_db_url
from advocacy.errors import UserError
from advocacy.ingest import ImportOptions, ImportReport, import_files, resolve_mapping
from advocacy.ingest.pipeline import Progress
from advocacy.storage import Store, migrate


@dataclass
class Workspace:
    """Entry point of the Python API: imports, logs, and (later) metrics on one store."""

    path: Path
    settings: Settings
    store: Store
    _source: Any = None

    def import_files(
        self, paths: Sequence[Path | str], *, table: str | None = None,
        mapping: Path | None = None, preset: str | None = None, file_format: str | None = None,
        on_conflict: str = "skip", mode: str = "append", confirmed: bool = False,
        progress: Progress | None = None,
    ) -> list[ImportReport]:  # fmt: skip
        """Import files, one transaction each. Example: ``ws.import_files(["a.csv"], table="accounts")``."""
        if on_conflict not in ("skip", "update"):
            raise UserError("--on-conflict must be 'skip' or 'update'")
        if mode not in ("append", "replace"):
            raise UserError("--mode must be 'append' or 'replace'")
        opts = ImportOptions(
            table=table, mapping=resolve_mapping(table, mapping, preset), file_format=file_format,
            update_conflicts=on_conflict == "update", replace=mode == "replace", confirmed=confirmed,
        )  # fmt: skip
        return import_files(self.store, self.settings, [Path(p) for p in paths], opts, progress)

    def metrics(self, metrics: str | Sequence[str], **options: Any) -> pd.DataFrame:
        """Metric rows (DESIGN §4). Example: ``ws.metrics("nps", by="segment", period="quarter")``.

        Options are those of `advocacy metrics`: by, period, start, end, window, basis, as_of,
        filters (a dict), segment_as_of, include_surveys.
        """
        from advocacy.metrics.custom import custom_metrics
        from advocacy.metrics.engine import query
        from advocacy.metrics.spec import MetricRequest

        names = [metrics] if isinstance(metrics, str) else list(metrics)
        request = MetricRequest.create(names, **options)
        extra = custom_metrics(self.settings.custom_metrics)
        return query(self.source(), self.settings, request, extra=extra)

    def source(self) -> Any:
        """Where metrics read: a `[source]` warehouse of advocacy.toml, else the store."""
        if self._source is None:
            from advocacy.metrics.source import Source
            from advocacy.warehouse import load_source_config, warehouse_source

            config = load_source_config(self.path)
            self._source = (
                warehouse_source(config, workspace=self.path)
                if config
                else Source(self.store.ibis())
            )
        return self._source

    def cohorts(
        self, *, measure: str = "accounts", by: str | None = None, as_of: date | str | None = None
    ) -> pd.DataFrame:
        """Cohort retention curves (DESIGN §5). Example: ``ws.cohorts(measure="mrr", by="referred")``."""
        from advocacy.metrics.cohorts import cohort_curves
        from advocacy.metrics.source import Source

        return cohort_curves(
            Source(self.store.ibis()), self.settings, measure=measure, by=by, as_of=as_of
        )

    def analyze(
        self, name: str, *, period: str = "quarter", start: date | str | None = None,
        end: date | str | None = None, as_of: date | str | None = None, **extra: Any,
    ) -> AnalysisResult:  # fmt: skip
        """An analysis of DESIGN §6: ``ws.analyze("support").main`` and ``.sentence``."""
        from advocacy.analyses import AnalysisOptions, run_analysis
        from advocacy.metrics.spec import parse_day

        options = AnalysisOptions(
            period=period, start=parse_day(start, "--from"), end=parse_day(end, "--to"),
            as_of=parse_day(as_of, "--as-of"), extra=extra,
        )  # fmt: skip
        return run_analysis(name, self.source(), self.settings, options)

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Rows of an internal table as a DataFrame (used for logs, quarantine, conflicts)."""
        with self.store.transaction() as tx:
            tx.execute(sql, params)
            names = [d[0] for d in tx.cursor.description]
            return pd.DataFrame(tx.cursor.fetchall(), columns=names)

    def imports(self) -> pd.DataFrame:
        return self.query(
            'SELECT import_id, table_name, source_file, status, "read", inserted, updated, '
            "unchanged, duplicate, conflicting, rejected, orphan, started_at, warnings "
            "FROM _imports ORDER BY started_at, import_id"
        )

    def rejects(self, import_id: str | None = None) -> pd.DataFrame:
        where, params = ("WHERE import_id = ?", (import_id,)) if import_id else ("", ())
        return self.query(
            "SELECT import_id, table_name, source_file, row_number, column_name, reason, raw "
            f"FROM _quarantine {where} ORDER BY import_id, row_number",
            params,
        )

    def conflicts(self) -> pd.DataFrame:
        return self.query(
            "SELECT import_id, table_name, row_key, diff, status, incoming FROM _conflicts "
            "ORDER BY import_id, row_key"
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split_target(target: str | Path) -> tuple[Path, str | None]:
    text = str(target)
    if text.startswith(("postgres://", "postgresql://")):
        return Path.cwd(), text
    path = Path(text)
    if path.suffix == ".duckdb":
        return path.parent, f"duckdb:///{path.resolve()}"
    return path, None


def open_workspace(
    target: str | Path = ".", *, db: str | None = None, create: bool = False
) -> Workspace:
    """Open a workspace folder, a `.duckdb` file or a database URL, migrating the store."""
    folder, url = _split_target(target)
    if not create and url is None and not folder.is_dir():
        raise UserError(
            f"workspace folder {folder} does not exist; create it with `advocacy init {folder}`"
        )
    settings = load_settings(folder)
    store = Store(resolve_db_url(folder, settings, db or url))
    try:
        migrate(store)
    except Exception:
        store.close()
        raise
    return Workspace(folder, settings, store)


def init_workspace(folder: Path, *, db: str | None = None) -> Workspace:
    """Create the folder, its `advocacy.toml` (kept if present) and the store."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / CONFIG_NAME
    if not config.exists():
        text = DEFAULT_CONFIG
        if db:
            text = text.replace('url = ""', f'url = "{db}"', 1)
        config.write_text(text, encoding="utf-8")
    return open_workspace(folder, db=db, create=True)
