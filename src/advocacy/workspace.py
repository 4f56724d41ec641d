"""A workspace: a folder with `advocacy.toml` and (by default) its DuckDB store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
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

    def metrics(self, metrics: str | Sequence[str] | None = None, **options: Any) -> pd.DataFrame:
        """Metric rows (DESIGN §4). Example: ``ws.metrics("nps", by="segment", period="quarter")``.

        Options are those of `advocacy metrics`: by, period, start, end, window, basis, as_of,
        filters (a dict), segment_as_of, include_surveys, ci, compare. No metrics: the
        headline set.
        """
        from advocacy.metrics.custom import custom_metrics
        from advocacy.metrics.engine import query

        request = _request(metrics, options)
        extra = custom_metrics(self.settings.custom_metrics)
        return query(self.source(), self.settings, request, extra=extra)

    def explain_metrics(self, metrics: str | Sequence[str] | None = None, **options: Any) -> str:
        """The SQL of the rollup those metrics share (options as for `metrics`)."""
        from advocacy.metrics.custom import custom_metrics
        from advocacy.metrics.engine import explain

        request = _request(metrics, options)
        extra = custom_metrics(self.settings.custom_metrics)
        return explain(self.source(), self.settings, request, extra=extra)

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

    # --- program: candidates ---
    def candidates(
        self, *, ask_type: str | None = None, segment: str | None = None,
        limit: int | None = None, as_of: date | str | None = None, evaluate: bool = False,
    ) -> pd.DataFrame:  # fmt: skip
        """Scored advocacy candidates (DESIGN §7): ``ws.candidates(ask_type="review", limit=20)``.

        `limit` keeps the best eligible candidates plus the ineligible ones scoring as high.
        ``evaluate=True`` returns the acceptance model's holdout evaluation rows instead
        (AUCs, calibration deciles, acceptance by recent asks).
        """
        from advocacy.program.candidates import CandidateRequest, candidates
        from advocacy.program.evaluate import evaluate as run_evaluation

        request = CandidateRequest.create(
            ask_type=ask_type, segment=segment, limit=limit, as_of=as_of
        )
        if evaluate:
            return run_evaluation(self.source(), self.settings, as_of=request.as_of).rows()
        return candidates(self.source(), self.settings, request)

    def recommend(self, *, as_of: date | str | None = None) -> pd.DataFrame:
        """The best eligible ask for each recent moment, at most one per account and contact."""
        from advocacy.metrics.spec import parse_day
        from advocacy.program.recommend import recommend

        return recommend(self.source(), self.settings, as_of=parse_day(as_of, "--as-of"))

    # --- program: asks, rewards, consent ---
    def create_ask(
        self, *, ask_type: str, contact: str | None = None, account: str | None = None,
        at: str | datetime | None = None, trigger: str | None = None, owner: str | None = None,
        override: bool = False, reason: str | None = None,
    ) -> Any:  # fmt: skip
        """Check the policy and record an ask (DESIGN §7); refusals raise `PolicyRefusal`.

        Example: ``ws.create_ask(contact="C1", ask_type="review").ask_id``.
        """
        from advocacy.program.ledger import AskInput, create_ask

        request = AskInput(ask_type, contact_id=contact, account_id=account, at=at,
                           trigger=trigger, owner=owner)  # fmt: skip
        return create_ask(self.store, self.settings, request, override=override, reason=reason)

    def record_outcome(
        self, ask_id: str, *, status: str, at: str | datetime | None = None,
        action: str | None = None, note: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Append an outcome to an ask: ``ws.record_outcome("ask-…", status="accepted")``."""
        from advocacy.program.ledger import record_outcome

        return record_outcome(self.store, self.settings, ask_id=ask_id, status=status, at=at,
                              action_id=action, note=note)  # fmt: skip

    def list_asks(self, *, contact: str | None = None) -> pd.DataFrame:
        """Asks with their latest outcome, oldest first."""
        from advocacy.program.ledger import list_asks

        return list_asks(self.store, contact_id=contact)

    def expire_asks(self, *, as_of: str | None = None) -> int:
        """Record `expired` for unanswered asks past their expiry; returns how many."""
        from advocacy.program.ledger import expire_asks

        return expire_asks(self.store, self.settings, as_of=as_of)

    def add_reward(
        self, *, account: str, reward_type: str, kind: str, contact: str | None = None,
        value: float = 0.0, action: str | None = None, at: str | datetime | None = None,
    ) -> Any:  # fmt: skip
        """Record a reward; the result's `warning` is set when money dominates recent rewards."""
        from advocacy.program.rewards import RewardInput, add_reward

        reward = RewardInput(account, reward_type, kind, contact_id=contact, value=value,
                             action_id=action, at=at)  # fmt: skip
        return add_reward(self.store, self.settings, reward)

    def list_rewards(self) -> pd.DataFrame:
        from advocacy.program.rewards import list_rewards

        return list_rewards(self.store)

    def opt_out(self, contact: str) -> bool:
        """Opt a contact out of advocacy asks (sticks across imports); False if already out."""
        from advocacy.program.consent import opt_out

        return opt_out(self.store, contact_id=contact)

    def forget(self, contact: str) -> Any:
        """Erase a person everywhere, keeping anonymous rows (DESIGN §7 erasure)."""
        from advocacy.program.consent import forget, rewrite_duckdb_file

        erasure = forget(self.store, contact_id=contact)
        # A DuckDB file keeps freed blocks as they were: copy its live data to a fresh file.
        self.store = rewrite_duckdb_file(self.store)
        self._source = None
        return erasure

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _request(metrics: str | Sequence[str] | None, options: dict[str, Any]) -> Any:
    """A MetricRequest from the Python API's arguments, refusing unknown options by name."""
    import inspect

    from advocacy.metrics.spec import HEADLINE, MetricRequest

    allowed = set(inspect.signature(MetricRequest.create).parameters) - {"cls", "metrics"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise UserError(
            f"unknown option(s) {', '.join(unknown)}; metrics takes {', '.join(sorted(allowed))}"
        )
    names = HEADLINE if metrics is None else [metrics] if isinstance(metrics, str) else metrics
    return MetricRequest.create(list(names), **options)


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
    store = Store(resolve_db_url(folder, settings, db or url), memory_limit=settings.memory_limit)
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
