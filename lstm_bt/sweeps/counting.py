"""How a study counts its cells: one rule, shared by the tables, the verdict and the pictures.

Every finished cell counts. A cell that closed no trade and held no position has an undefined
Sharpe ratio (null in cells.csv) but counts as Sharpe 0 (a flat account earns nothing), so a
config that rarely trades is not judged on its few lucky cells. A failed cell counts in
`cells` and `failed` only.
"""

import numpy as np
import pandas as pd

__all__ = ["numbers", "finished", "no_trade", "counted_sharpe", "naive_beats_model", "share"]


def numbers(table, column):
    """`table[column]` as floats (NaN where missing or not a number; all NaN without it)."""
    if column not in table:
        return pd.Series(np.nan, index=table.index)
    return pd.to_numeric(table[column], errors="coerce")


def finished(table):
    """True for each cell that finished (`status` ok)."""
    return table["status"] == "ok"


def no_trade(table):
    """True for each finished cell that closed no trade and held no position."""
    exposure = numbers(table, "exposure_pct").fillna(0.0)
    return finished(table) & numbers(table, "trades").eq(0) & exposure.eq(0)


def counted_sharpe(table):
    """Each cell's Sharpe ratio as the study counts it: 0 without a trade, NaN if failed."""
    sharpe = numbers(table, "sharpe").mask(no_trade(table), 0.0)
    return sharpe.where(finished(table))


def naive_beats_model(table):
    """True for each cell where the better naive rule called the next move more often than
    the model (`forecast_best_naive_hit_rate` > `forecast_hit_rate`)."""
    return numbers(table, "forecast_best_naive_hit_rate") > numbers(table, "forecast_hit_rate")


def share(flags):
    """The share of True among `flags` (a boolean Series), None when it is empty."""
    return float(flags.mean()) if len(flags) else None
