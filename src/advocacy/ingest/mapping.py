"""Mappings: how a file's own layout becomes canonical rows (DESIGN §3 "Mappings").

A mapping is TOML or YAML::

    name = "zendesk-tickets"
    source = "zendesk"              # resolves ids through account_aliases(source=…)
    source_timezone = "UTC"         # naive timestamps in the file are in this zone
    [read]                          # optional reader settings
    delimiter = ";"
    skip_after_header = 2           # non-data rows under the header (Qualtrics)
    [outputs.tickets.columns]       # one section per canonical table fed by the file
    ticket_id = "Id"                # shorthand: a raw column (case and spacing ignored)
    opened_at = { column = "Created at", formats = ["%Y-%m-%d %H:%M"] }
    priority = { column = "Priority", values = { "P1" = "urgent" } }
    channel = { value = "email" }   # a constant
    response_id = { sql = "'zd-' || \"Id\"" }   # a SQL expression over raw columns

An output may instead give ``sql = "SELECT … FROM raw"`` for shapes a rename can't express;
its result columns then map by name unless ``columns`` says otherwise. Select ``_row`` from
``raw`` to keep the file's row numbers in the quarantine. ``[read] inputs = ["a", "b"]`` makes
the mapping read several files at once (given in that order), as views ``a`` and ``b``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from advocacy.errors import UserError
from advocacy.schema import TABLES

PRESET_DIR = Path(__file__).parent / "presets"
_COLUMN_KEYS = {"column", "value", "sql", "values", "formats", "scale", "default"}


@dataclass(frozen=True)
class ColumnRule:
    """Where one canonical column comes from and how its raw values are read."""

    column: str | None = None
    value: str | None = None
    sql: str | None = None
    values: tuple[tuple[str, str | None], ...] = ()
    formats: tuple[str, ...] = ()
    scale: tuple[float, float] | None = None
    default: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    table: str
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    sql: str | None = None
    where: str | None = None
    extras: tuple[str, ...] = ()
    keep_extras: bool = False


@dataclass(frozen=True)
class ReadOptions:
    delimiter: str | None = None
    encoding: str | None = None
    skip_after_header: int = 0
    file_format: str | None = None
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mapping:
    name: str
    outputs: dict[str, OutputSpec]
    description: str = ""
    source: str | None = None
    source_timezone: str | None = None
    read: ReadOptions = ReadOptions()
    origin: str = ""

    @classmethod
    def identity(cls, table: str) -> Mapping:
        """The mapping of a file already in canonical column names."""
        return cls(name=f"canonical:{table}", outputs={table: OutputSpec(table=table)})


def normalise_header(name: str) -> str:
    """How headers are compared: case, spacing and punctuation ignored."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def _rule(table: str, column: str, raw: Any) -> ColumnRule:
    if isinstance(raw, str):
        return ColumnRule(column=raw)
    if not isinstance(raw, dict):
        raise UserError(f"mapping of {table}.{column} must be a column name or a table")
    unknown = set(raw) - _COLUMN_KEYS
    if unknown:
        raise UserError(f"mapping of {table}.{column}: unknown key(s) {', '.join(sorted(unknown))}")
    sources = [k for k in ("column", "value", "sql") if k in raw]
    if len(sources) != 1:
        raise UserError(f"mapping of {table}.{column} needs exactly one of column, value, sql")
    formats = raw.get("formats", ())
    scale = raw.get("scale")
    if scale is not None and (len(scale) != 2 or float(scale[0]) >= float(scale[1])):
        raise UserError(f"mapping of {table}.{column}: scale must be [min, max] with min < max")
    return ColumnRule(
        column=raw.get("column"),
        value=None if raw.get("value") is None else str(raw["value"]),
        sql=raw.get("sql"),
        values=tuple(
            (str(k).strip().lower(), None if v is None else str(v))
            for k, v in dict(raw.get("values", {})).items()
        ),
        formats=(formats,) if isinstance(formats, str) else tuple(formats),
        scale=None if scale is None else (float(scale[0]), float(scale[1])),
        default=None if raw.get("default") is None else str(raw["default"]),
    )


def _output(table: str, raw: dict[str, Any]) -> OutputSpec:
    if table not in TABLES:
        raise UserError(f"mapping names unknown table '{table}'; known: {', '.join(TABLES)}")
    spec = TABLES[table]
    columns = raw.get("columns", {})
    unknown = set(columns) - set(spec.names)
    if unknown and table != "accounts":
        raise UserError(f"mapping of {table}: unknown column(s) {', '.join(sorted(unknown))}")
    extras = raw.get("extras", ())
    return OutputSpec(
        table=table,
        columns={name: _rule(table, name, rule) for name, rule in columns.items()},
        sql=raw.get("sql"),
        where=raw.get("where"),
        extras=tuple(extras) if isinstance(extras, list) else (),
        keep_extras=extras == "*",
    )


def parse_mapping(raw: dict[str, Any], *, origin: str) -> Mapping:
    outputs = raw.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        raise UserError(f"{origin}: a mapping needs at least one [outputs.TABLE] section")
    read = raw.get("read", {})
    return Mapping(
        name=str(raw.get("name", Path(origin).stem)),
        description=str(raw.get("description", "")),
        source=raw.get("source"),
        source_timezone=raw.get("source_timezone"),
        read=ReadOptions(
            delimiter=read.get("delimiter"),
            encoding=read.get("encoding"),
            skip_after_header=int(read.get("skip_after_header", 0)),
            file_format=read.get("file_format"),
            inputs=tuple(read.get("inputs", ())),
        ),
        outputs={t: _output(t, spec or {}) for t, spec in outputs.items()},
        origin=origin,
    )


def load_mapping(path: Path) -> Mapping:
    """A mapping from a TOML or YAML file, with errors that name the file."""
    if not path.is_file():
        raise UserError(f"mapping file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"mapping file {path} cannot be parsed: {exc}") from None
    if not isinstance(raw, dict):
        raise UserError(f"mapping file {path} must hold a table of settings")
    return parse_mapping(raw, origin=str(path))


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_preset(name: str) -> Mapping:
    path = PRESET_DIR / f"{name}.toml"
    if not path.is_file():
        raise UserError(f"unknown preset '{name}'; presets: {', '.join(preset_names()) or 'none'}")
    return load_mapping(path)
