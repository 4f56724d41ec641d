"""Accounts that went quiet after a change: advocates before it, silent after it.

An account is listed for a change when it is in the change's scope as of the release (every account
when unscoped), did at least one counted action in the pre window, none in the post window, and was
active in the post window (an account that churned is gone, not quiet).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

from advocacy.analyses.dropoff_data import Accounts
from advocacy.analyses.dropoff_family import WindowSums

COLUMNS = ["change_id", "account_id", "dimension", "value", "pre_actions", "post_active_weeks"]


class ChangeWindows(NamedTuple):
    change_id: str
    released_at: datetime
    scope_dimension: str | None
    scope_value: str | None
    sums: WindowSums


def quiet_accounts(accounts: Accounts, changes: list[ChangeWindows]) -> pd.DataFrame:
    frames = [_quiet(accounts, c) for c in changes]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _quiet(accounts: Accounts, c: ChangeWindows) -> pd.DataFrame:
    pre, post = c.sums.pre, c.sums.post
    quiet = (pre["actions"] > 0) & (post["actions"] == 0) & (post["exposure"] > 0)
    dim, value = c.scope_dimension, c.scope_value
    scoped = dim is not None and value is not None and dim in accounts.current
    if scoped:
        quiet &= accounts.as_of(str(dim), c.released_at) == value
    idx = np.flatnonzero(quiet)
    return pd.DataFrame({
        "change_id": c.change_id, "account_id": accounts.ids[idx],
        "dimension": dim if scoped else None, "value": value if scoped else None,
        "pre_actions": pre["actions"][idx].astype(np.int64),
        "post_active_weeks": post["exposure"][idx].astype(np.int64),
    }, columns=COLUMNS)  # fmt: skip
