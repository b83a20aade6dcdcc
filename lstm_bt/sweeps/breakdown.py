"""breakdown.csv: each config on each symbol and period, beside buy and hold and the naive rule.

A config that only follows the market gains where buy and hold gains and loses where it
loses: one row per config x symbol x period shows it where a single median hides it.
"""

import pandas as pd

from .counting import counted_sharpe, finished, naive_beats_model, no_trade, numbers, share

__all__ = ["BREAKDOWN_COLUMNS", "breakdown_table", "best_config_cells"]

BREAKDOWN_COLUMNS = ("config", "symbol", "period_start", "period_end", "cells", "sharpe_median",
                     "return_median", "bh_return", "beat_bh_share", "naive_beats_model_share",
                     "no_trade_share")


def breakdown_table(table):
    """One row per config x symbol x period of the cells table (cells.csv).

    Args:
        table: the cells DataFrame the sweep report builds.

    Returns:
        A DataFrame with `BREAKDOWN_COLUMNS`, in the cells' order: `cells` (all, failed
        included), medians over the finished cells (Sharpe counted as `counting` says, return
        in %), `bh_return` (buy and hold's return in %, the same for every seed),
        `beat_bh_share` (cells whose Sharpe beats buy and hold's), `naive_beats_model_share`
        (cells where the better naive rule calls the next move more often than the model) and
        `no_trade_share`; None where no cell finished.
    """
    frame = pd.DataFrame({
        "config": table["config"], "symbol": table["symbol"],
        "period_start": table["period_start"], "period_end": table["period_end"],
        "finished": finished(table), "sharpe": counted_sharpe(table),
        "return": numbers(table, "total_return_pct"),
        "bh_return": numbers(table, "bh_total_return_pct"),
        "bh_sharpe": numbers(table, "bh_sharpe"),
        "naive": naive_beats_model(table), "flat": no_trade(table)})
    rows = []
    keys = ["config", "symbol", "period_start", "period_end"]
    for key, group in frame.groupby(keys, sort=False):
        ok = group[group["finished"]]
        rows.append({**dict(zip(keys, key)), "cells": len(group),
                     "sharpe_median": _median(ok["sharpe"]),
                     "return_median": _median(ok["return"]),
                     "bh_return": _median(ok["bh_return"]),
                     "beat_bh_share": share(ok["sharpe"] > ok["bh_sharpe"]),
                     "naive_beats_model_share": share(ok["naive"]),
                     "no_trade_share": share(ok["flat"])})
    return pd.DataFrame(rows, columns=list(BREAKDOWN_COLUMNS))


def best_config_cells(table, config):
    """The finished cells of `config`, each beside buy and hold and the better naive rule.

    Returns:
        A DataFrame, one row per finished cell in the cells' order: `symbol`, `period_start`,
        `period_end`, `seed`, `return`, `bh_return`, `sharpe` (counted), `bh_sharpe`,
        `trades`, `hit_rate`, `naive_hit_rate`, `beats_bh` (by Sharpe), `beats_bh_return`,
        `naive_beats_model`, `no_trade`.
    """
    mine = table[(table["config"] == config) & finished(table)]
    cells = pd.DataFrame({
        "symbol": mine["symbol"], "period_start": mine["period_start"],
        "period_end": mine["period_end"], "seed": mine["seed"],
        "return": numbers(mine, "total_return_pct"),
        "bh_return": numbers(mine, "bh_total_return_pct"),
        "sharpe": counted_sharpe(mine), "bh_sharpe": numbers(mine, "bh_sharpe"),
        "trades": numbers(mine, "trades"), "hit_rate": numbers(mine, "forecast_hit_rate"),
        "naive_hit_rate": numbers(mine, "forecast_best_naive_hit_rate")})
    cells["beats_bh"] = cells["sharpe"] > cells["bh_sharpe"]
    cells["beats_bh_return"] = cells["return"] > cells["bh_return"]
    cells["naive_beats_model"] = naive_beats_model(mine)
    cells["no_trade"] = no_trade(mine)
    return cells.reset_index(drop=True)


def _median(values):
    value = values.median()
    return None if pd.isna(value) else float(value)
