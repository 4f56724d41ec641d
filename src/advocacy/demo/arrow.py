"""Arrow helpers: canonical schemas, ids, labels, timestamps and dates from numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from advocacy.demo.calendar import BoolArr, FloatArr, IntArr, epoch_days, epoch_micros
from advocacy.schema import TABLES, ColType

ARROW_TYPES = {
    ColType.STRING: pa.string(),
    ColType.TIMESTAMP: pa.timestamp("us"),
    ColType.DATE: pa.date32(),
    ColType.FLOAT: pa.float64(),
    ColType.INT: pa.int64(),
    ColType.BOOL: pa.bool_(),
}
# Extra account columns the demo adds to show that extra columns are kept and usable as dimensions.
ACCOUNT_EXTRAS = (("employees", pa.int64()), ("csm_tier", pa.string()))


def schema(table: str) -> pa.Schema:
    """Arrow schema of a canonical table, in canonical column order (accounts plus its extras)."""
    fields = [pa.field(c.name, ARROW_TYPES[c.type]) for c in TABLES[table].columns]
    if table == "accounts":
        fields += [pa.field(name, kind) for name, kind in ACCOUNT_EXTRAS]
    return pa.schema(fields)


def ids(prefix: str, numbers: IntArr, width: int, valid: BoolArr | None = None) -> pa.Array:
    """Zero-padded string ids like ``A0000123``; rows where ``valid`` is False are null."""
    mask = None if valid is None else ~valid
    digits = pa.array(numbers.astype(np.int64), mask=mask).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, width=width, padding="0"), "")


def refs(prefix: str, width: int, offset: int, rank: IntArr, local: IntArr) -> pa.Array:
    """Ids of referenced rows given their chunk-local positions (-1 = null)."""
    valid = local >= 0
    number = (
        offset + rank[np.where(valid, local, 0)] + 1
        if len(rank)
        else np.zeros(len(local), np.int64)
    )
    return ids(prefix, np.asarray(number, dtype=np.int64), width, valid)


def labels(codes: IntArr, vocab: Sequence[str]) -> pa.Array:
    """Strings from integer codes into ``vocab``; negative codes are null."""
    valid = codes >= 0
    idx = pa.array(np.where(valid, codes, 0).astype(np.int32), mask=~valid)
    return pa.DictionaryArray.from_arrays(idx, pa.array(list(vocab), pa.string())).cast(pa.string())


def timestamps(days: FloatArr) -> pa.Array:
    """Naive UTC timestamps (whole seconds) from day numbers; NaN and inf are null."""
    bad = ~np.isfinite(days)
    return pa.array(epoch_micros(np.where(bad, 0.0, days)), pa.timestamp("us"), mask=bad)


def dates(days: IntArr, valid: BoolArr | None = None) -> pa.Array:
    """``date32`` values from day indices."""
    mask = None if valid is None else ~valid
    return pa.array(epoch_days(days), pa.date32(), mask=mask)


def floats(values: FloatArr) -> pa.Array:
    """float64 with NaN as null."""
    return pa.array(values.astype(np.float64), pa.float64(), mask=np.isnan(values))


def bools(values: IntArr) -> pa.Array:
    """Booleans from 0/1 with -1 as null."""
    return pa.array(values == 1, pa.bool_(), mask=values < 0)


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation (null if any part is null)."""
    return pc.binary_join_element_wise(*parts, "")


def table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    """A table in canonical order; missing nullable columns are filled with nulls."""
    sch = schema(name)
    n = len(next(iter(columns.values())))
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in sch]
    return pa.Table.from_arrays(
        [a.cast(f.type) for a, f in zip(arrays, sch, strict=True)], schema=sch
    )


def order_rank(*keys: FloatArr | IntArr) -> tuple[IntArr, IntArr]:
    """(order, rank) sorting rows by the keys, last key primary (``np.lexsort`` convention)."""
    if len(keys[0]) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    order = np.lexsort(keys).astype(np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return order, rank
