"""The sweep's tables and files: cells.csv, configs.csv, breakdown.csv, summary.json,
returns.npz, the PNGs and report.html.

Cells are counted as `counting` says: a cell without a trade counts as Sharpe 0 in medians,
quartiles and comparisons (its Sharpe stays null in cells.csv). A config's pooled returns are
its finished cells' per-bar returns in the order (symbol, period, seed); PSR and DSR (N = the
configs, V = the variance of their per-bar Sharpe ratios) are computed on them, PBO and the
effective number of trials on the T x N matrix of the slots every config finished, so it stays
aligned bar for bar. `verdict` turns them into the summary.
"""

import json
import math

import numpy as np
import pandas as pd

from .._atomic_files import write_file
from ..stats.overfitting import deflated_sharpe_ratio, probabilistic_sharpe_ratio, return_moments
from .counting import counted_sharpe, finished, no_trade, numbers, share

__all__ = ["build_tables", "write_report", "pooled_matrix", "finite", "label", "params_text",
           "SIGNIFICANT"]

SIGNIFICANT = 0.05


def build_tables(spec, configs, cells, records, timing):
    """The sweep's tables from its cell records.

    Args:
        spec: the `SweepSpec`.
        configs: the configs `plan_sweep` made.
        cells: the `Cell`s, in plan order.
        records: {cell key: stored result}; a cell without one counts as failed ("not run").
        timing: this run's timing dict for `summary.json`.

    Returns:
        (cells DataFrame, configs DataFrame, breakdown DataFrame, summary dict,
        {cell key: per-bar returns of each finished cell}).
    """
    from .breakdown import breakdown_table
    from .verdict import summarize

    swept = spec.swept
    rows, returns = [], {}
    for cell in cells:
        record = records.get(cell.key) or {"status": "failed", "error": "not run",
                                           "report": None, "train_s": None, "total_s": None}
        params = {**cell.model, **cell.trading}
        row = {"config": cell.config, "symbol": cell.symbol, "interval": cell.interval,
               "period_start": cell.period_start, "period_end": cell.period_end,
               "seed": cell.seed, **{name: label(params[name]) for name in swept},
               "status": record["status"], "error": record["error"]}
        report = record.get("report") or {}
        row.update(report.get("metrics", {}))
        row.update({f"bh_{k}": v for k, v in report.get("benchmark", {}).items()})
        row.update({f"forecast_{k}": v for k, v in report.get("forecast", {}).items()})
        row["train_s"], row["total_s"] = record["train_s"], record["total_s"]
        rows.append(row)
        if record["status"] == "ok":
            returns[cell.key] = np.asarray(record["returns"], dtype=np.float64)
    table = _with_report_columns(pd.DataFrame(rows))
    pooled = _pooled(configs, cells, returns)
    config_table = _configs(swept, configs, table, pooled)
    breakdown = breakdown_table(table)
    summary = summarize(spec, configs, cells, table, config_table, pooled,
                        pooled_matrix(cells, table, returns), timing)
    return table, config_table, breakdown, summary, returns


def _configs(swept, configs, table, pooled):
    moments = {number: return_moments(series) for number, series in pooled.items()}
    sharpes = [_trial_sharpe(moments[number][0], pooled[number]) for number in pooled]
    sharpes = [s for s in sharpes if s is not None]
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else None
    sharpe, flat = counted_sharpe(table), no_trade(table)
    rows = []
    for number, config in enumerate(configs):
        params = {**config["model"], **config["trading"]}
        mine = table["config"] == number
        ok = mine & finished(table)
        sr, n, skew, kurtosis = moments[number]
        rows.append({
            "config": number,
            **{name: label(params[name]) for name in swept},
            "cells": int(mine.sum()),
            "failed": int((mine & ~ok).sum()),
            "sharpe_median": finite(sharpe[ok].median()),
            "sharpe_q25": finite(sharpe[ok].quantile(0.25)),
            "sharpe_q75": finite(sharpe[ok].quantile(0.75)),
            "beat_bh_share": share(sharpe[ok] > numbers(table, "bh_sharpe")[ok]),
            "beat_bh_return_share": share(numbers(table, "total_return_pct")[ok]
                                          > numbers(table, "bh_total_return_pct")[ok]),
            "significant_share": share(numbers(table, "forecast_p_value")[ok] < SIGNIFICANT),
            "no_trade_share": share(flat[ok]),
            "max_drawdown_median": finite(numbers(table, "max_drawdown_pct")[ok].median()),
            "trades_median": finite(numbers(table, "trades")[ok].median()),
            "psr": probabilistic_sharpe_ratio(sr, n, skew, kurtosis),
            "dsr": deflated_sharpe_ratio(sr, n, skew, kurtosis, len(configs), variance),
        })
    frame = pd.DataFrame(rows)
    frame.attrs["trials_variance"] = variance
    return frame


def _trial_sharpe(sharpe, series):
    """A config's per-bar Sharpe ratio among the trials: 0 when it never traded."""
    if sharpe is None and series.size > 1 and not series.any():
        return 0.0
    return sharpe


def _pooled(configs, cells, returns):
    """{config: its finished cells' per-bar returns, concatenated in cell order}."""
    pooled = {number: [] for number in range(len(configs))}
    for cell in cells:
        if cell.key in returns:
            pooled[cell.config].append(returns[cell.key])
    return {number: np.concatenate(parts) if parts else np.empty(0)
            for number, parts in pooled.items()}


def pooled_matrix(cells, table, returns):
    """The T x N matrix of pooled returns over the (symbol, period, seed) slots that every
    config finished (with equally long returns), in cell order; None when there is none."""
    status = dict(zip((c.key for c in cells), table["status"]))
    configs = sorted({cell.config for cell in cells})
    slots = {}
    for cell in cells:
        slots.setdefault((cell.symbol, cell.period_start, cell.period_end, cell.seed),
                         {})[cell.config] = cell.key
    columns = {number: [] for number in configs}
    for members in slots.values():
        if len(members) == len(configs) and all(status[k] == "ok" for k in members.values()):
            if len({len(returns[k]) for k in members.values()}) == 1:
                for number, key in members.items():
                    columns[number].append(returns[key])
    if not configs or not columns[configs[0]]:
        return None
    return np.column_stack([np.concatenate(columns[number]) for number in configs])


def write_report(path, spec, configs, cells, records, timing):
    """Write every file of the sweep's report into `path`; return (cells, configs, summary)."""
    from . import plots
    from .study_page import write_study_page

    table, config_table, breakdown, summary, returns = build_tables(spec, configs, cells,
                                                                    records, timing)
    table.to_csv(path / "cells.csv", index=False)
    config_table.to_csv(path / "configs.csv", index=False)
    breakdown.to_csv(path / "breakdown.csv", index=False)
    # Whole or not at all: the next run into `path` reads its `timing` (`all_runs`).
    write_file(path / "summary.json",
               json.dumps(summary, indent=1, default=_json_default).encode())
    np.savez_compressed(path / "returns.npz", **{_cell_name(c): returns[c.key]
                                                 for c in cells if c.key in returns})
    plots.draw(path, spec, table, config_table)
    write_study_page(path / "report.html", spec, table, config_table, breakdown, summary)
    return table, config_table, summary


def _with_report_columns(table):
    """Every metric column present even when no cell finished (then all empty)."""
    from ..stats import FORECAST_KEYS, METRIC_KEYS

    wanted = ([*METRIC_KEYS] + [f"bh_{key}" for key in METRIC_KEYS]
              + [f"forecast_{key}" for key in FORECAST_KEYS])
    missing = [column for column in wanted if column not in table.columns]
    if not missing:
        return table
    timing = table[["train_s", "total_s"]]
    table = table.drop(columns=["train_s", "total_s"])
    table = table.reindex(columns=[*table.columns, *missing])
    return pd.concat([table, timing], axis=1)


def _cell_name(cell):
    """A cell's array in returns.npz: `config3__BTCUSDT__2024-01-01__2024-02-01__seed0`."""
    return (f"config{cell.config}__{cell.symbol}__{cell.period_start}__{cell.period_end}"
            f"__seed{cell.seed}")


def finite(value):
    """`value` as a float, None where it is None, NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def label(value):
    """A param's value as cells.csv writes it: a list of widths as `[64, 32]`."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return value


def params_text(row, swept):
    """`seq_len=30, threshold=0.001`: a config's swept params (a configs.csv row)."""
    return ", ".join(f"{name}={row[name]}" for name in swept) or "the only config"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
