"""The sweep report: cells.csv, configs.csv, summary.json, returns.npz and the plots.

A config's pooled returns are its cells' per-bar returns in the order (symbol, period, seed);
PSR and DSR (N = the configs, V = the variance of their Sharpe ratios) are computed on them,
PBO on the T x N matrix of the slots every config finished, so it stays aligned bar for bar.
"""

import json
import math

import numpy as np
import pandas as pd

from ..stats.overfitting import deflated_sharpe_ratio, pbo, probabilistic_sharpe_ratio, return_moments

__all__ = ["build_tables", "write_report", "describe_summary"]

SIGNIFICANT = 0.05


def build_tables(spec, configs, cells, records, timing):
    """(cells DataFrame, configs DataFrame, summary dict, {cell key: returns})."""
    swept = spec.swept
    rows, returns = [], {}
    for cell in cells:
        record = records.get(cell.key) or {"status": "failed", "error": "not run",
                                           "report": None, "train_s": None, "total_s": None}
        params = {**cell.model, **cell.trading}
        row = {"config": cell.config, "symbol": cell.symbol, "interval": cell.interval,
               "period_start": cell.period_start, "period_end": cell.period_end,
               "seed": cell.seed, **{name: _label(params[name]) for name in swept},
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
    config_table = _configs(spec, configs, cells, table, returns)
    summary = _summary(spec, configs, cells, table, config_table, returns, timing)
    return table, config_table, summary, returns


def _configs(spec, configs, cells, table, returns):
    swept = spec.swept
    by_config = {number: [c for c in cells if c.config == number] for number in range(len(configs))}
    pooled = {number: np.concatenate([returns[c.key] for c in members if c.key in returns]
                                     or [np.empty(0)])
              for number, members in by_config.items()}
    moments = {number: return_moments(series) for number, series in pooled.items()}
    sharpes = [m[0] for m in moments.values() if m[0] is not None]
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else None
    rows = []
    for number, config in enumerate(configs):
        params = {**config["model"], **config["trading"]}
        mine = table[table["config"] == number]
        ok = mine[mine["status"] == "ok"]
        sharpe = pd.to_numeric(ok.get("sharpe"), errors="coerce")
        bh = pd.to_numeric(ok.get("bh_sharpe"), errors="coerce")
        p_value = pd.to_numeric(ok.get("forecast_p_value"), errors="coerce")
        sr, n, skew, kurtosis = moments[number]
        rows.append({
            "config": number,
            **{name: _label(params[name]) for name in swept},
            "cells": len(mine),
            "failed": int((mine["status"] != "ok").sum()),
            "sharpe_median": _stat(sharpe.median()) if len(ok) else None,
            "sharpe_q25": _stat(sharpe.quantile(0.25)) if len(ok) else None,
            "sharpe_q75": _stat(sharpe.quantile(0.75)) if len(ok) else None,
            "beat_bh_share": _stat((sharpe > bh).mean()) if len(ok) else None,
            "significant_share": _stat((p_value < SIGNIFICANT).mean()) if len(ok) else None,
            "max_drawdown_median": _median(ok, "max_drawdown_pct"),
            "trades_median": _median(ok, "trades"),
            "psr": probabilistic_sharpe_ratio(sr, n, skew, kurtosis),
            "dsr": deflated_sharpe_ratio(sr, n, skew, kurtosis, len(configs), variance),
        })
    return pd.DataFrame(rows)


def _summary(spec, configs, cells, table, config_table, returns, timing):
    ranked = config_table.dropna(subset=["sharpe_median"])
    best = None
    if len(ranked):
        row = ranked.loc[ranked["sharpe_median"].astype(float).idxmax()]
        number = int(row["config"])
        best = {"config": number, "params": _plain({**configs[number]["model"],
                                                    **configs[number]["trading"]}),
                **{key: _stat(row[key]) for key in
                   ("sharpe_median", "sharpe_q25", "sharpe_q75", "beat_bh_share",
                    "significant_share", "max_drawdown_median", "trades_median")},
                "cells": int(row["cells"]), "failed": int(row["failed"])}
    return {
        "n_configs": len(configs),
        "n_cells": len(cells),
        "failed": int((table["status"] != "ok").sum()),
        "best": best,
        "psr": _stat(config_table.loc[best["config"], "psr"]) if best else None,
        "dsr": _stat(config_table.loc[best["config"], "dsr"]) if best else None,
        "pbo": _pbo(cells, table, returns),
        "swept": spec.swept,
        "timing": timing,
    }


def _pbo(cells, table, returns):
    """PBO over the (symbol, period, seed) slots that every config finished, in cell order."""
    status = dict(zip((c.key for c in cells), table["status"]))
    configs = sorted({cell.config for cell in cells})
    if len(configs) < 2:
        return None
    slots = {}
    for cell in cells:
        slots.setdefault((cell.symbol, cell.period_start, cell.period_end, cell.seed),
                         {})[cell.config] = cell.key
    columns = {number: [] for number in configs}
    for members in slots.values():
        if len(members) == len(configs) and all(status[k] == "ok" for k in members.values()):
            lengths = {len(returns[k]) for k in members.values()}
            if len(lengths) == 1:
                for number, key in members.items():
                    columns[number].append(returns[key])
    if not columns[configs[0]]:
        return None
    matrix = np.column_stack([np.concatenate(columns[number]) for number in configs])
    return pbo(matrix)


def write_report(path, spec, configs, cells, records, timing):
    """Write cells.csv, configs.csv, summary.json, returns.npz and the PNGs; return tables."""
    from . import plots

    table, config_table, summary, returns = build_tables(spec, configs, cells, records, timing)
    table.to_csv(path / "cells.csv", index=False)
    config_table.to_csv(path / "configs.csv", index=False)
    (path / "summary.json").write_text(json.dumps(summary, indent=1, default=_json_default))
    np.savez_compressed(path / "returns.npz", **{_cell_name(c): returns[c.key]
                                                 for c in cells if c.key in returns})
    plots.draw(path, spec, table, config_table)
    return table, config_table, summary


def describe_summary(summary):
    """The summary in plain words, a few lines for the terminal."""
    cells, failed = summary["n_cells"], summary["failed"]
    lines = [f"{cells} backtests ({summary['n_configs']} configs), {failed} failed."]
    best = summary["best"]
    if best is None:
        lines.append("No config finished a cell: nothing to compare.")
        return "\n".join(lines)
    params = ", ".join(f"{k}={_label(v)}" for k, v in best["params"].items()
                       if k in summary["swept"]) or "the only config"
    lines.append(f"best config {params}: median Sharpe {_fmt(best['sharpe_median'])} over "
                 f"{best['cells'] - best['failed']} cells (quartiles {_fmt(best['sharpe_q25'])}"
                 f" to {_fmt(best['sharpe_q75'])}), beat buy and hold in "
                 f"{_pct(best['beat_bh_share'])} of them.")
    dsr, n = summary["dsr"], summary["n_configs"]
    if dsr is None:
        lines.append("Deflated Sharpe ratio: undefined (too few or constant returns).")
    else:
        verdict = "significant" if dsr >= 0.95 else "not significant"
        lines.append(f"deflated for {n} trial{'s' * (n != 1)}: probability {dsr:.2f} that it "
                     f"beats zero — {verdict}.")
    if summary["pbo"] is not None:
        lines.append(f"probability of backtest overfitting (CSCV): {summary['pbo']:.2f} — the "
                     "share of splits where the in-sample best config is at or below the median "
                     "out of sample.")
    return "\n".join(lines)


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
    return f"config{cell.config}__{cell.symbol}__{cell.period_start}__seed{cell.seed}"


def _median(frame, column):
    if column not in frame or not len(frame):
        return None
    return _stat(pd.to_numeric(frame[column], errors="coerce").median())


def _stat(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _label(value):
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return value


def _plain(params):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _fmt(value):
    return "n/a" if value is None else f"{value:.2f}"


def _pct(value):
    return "n/a" if value is None else f"{100 * value:.0f} %"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
