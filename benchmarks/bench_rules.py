"""Which trading rule turns the default model's forecasts into trades a trader would keep?

Prints figures, asserts nothing. One command (run it under the team lock):

    .venv/bin/python benchmarks/bench_rules.py --data-dir /tmp/rules [--seeds 0 1 2]

For BTCUSDT and ETHUSDT 1h (../shared/data), Q1 of 2023, 2024 and 2025, and each seed, one
`run_backtest` per rule with the default model and broker (commission 0.001, so the `"cost"`
entry threshold is 0.002). The first rule trains the walk-forward and stores its forecasts in
`--data-dir`'s forecast cache; every other rule replays them (trading params never retrain),
and so does a second invocation. Per rule, over every cell: closed trades, exposure, median
Sharpe (a flat account's undefined Sharpe counted as 0), return and max drawdown against buy
and hold, fees, the share of cells beating buy and hold's return, cells holding a position to
the end without closing one, cells never in the market, and the forecast's hit rate against
the best naive rule (the same forecasts for every rule, so the same figure).
"""

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import SHARED_DATA
from lstm_bt import run_backtest

FILES = {"BTCUSDT": "btcusdt_1h_2022-2026_rest_raw.csv",
         "ETHUSDT": "ethusdt_1h_2022-2026_rest_raw.csv"}
PERIODS = [("2023-01-01", "2023-04-01"), ("2024-01-01", "2024-04-01"),
           ("2025-01-01", "2025-04-01")]
RULES = {
    "symmetric (before)": {"threshold": "cost", "exit_threshold": -0.002},
    "cost in, out below 0": {"threshold": "cost", "exit_threshold": 0.0},
    "cost in, out below -0.001": {"threshold": "cost", "exit_threshold": -0.001},
    "cost in, out below +0.001": {"threshold": "cost", "exit_threshold": 0.001},
    "0.001 in, out below 0": {"threshold": 0.001, "exit_threshold": 0.0},
    "sign (0 in, 0 out)": {"threshold": 0.0, "exit_threshold": 0.0},
    "cost in, out below 0, short": {"threshold": "cost", "exit_threshold": 0.0,
                                    "allow_short": True},
    "sign, short": {"threshold": 0.0, "exit_threshold": 0.0, "allow_short": True},
}

logger = logging.getLogger("bench_rules")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="forecast cache (keep it between runs)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--cells", help="also write one row per rule and cell to this CSV")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("lstm_bt").setLevel(logging.ERROR)
    began = time.perf_counter()
    rows = [cell(args, symbol, period, seed, rule)
            for symbol in FILES for period in PERIODS for seed in args.seeds for rule in RULES]
    cells = pd.DataFrame(rows)
    if args.cells:
        cells.to_csv(args.cells, index=False)
    logger.info("%d cells per rule, %.0f s\n", len(cells) // len(RULES),
                time.perf_counter() - began)
    logger.info("%s\n", summary(cells).to_string())
    by_period = cells.pivot_table(index="rule", columns=["symbol", "period"], values="return",
                                  aggfunc="median", sort=False)
    logger.info("median return [%%] by symbol and period\n%s", by_period.round(1).to_string())


def cell(args, symbol, period, seed, rule):
    """One backtest's figures."""
    result = run_backtest(Path(args.data) / FILES[symbol], symbol=symbol, interval="1h",
                          start=period[0], end=period[1], seed=seed, data_dir=args.data_dir,
                          **RULES[rule])
    report = result.report
    metrics, benchmark, forecast = report["metrics"], report["benchmark"], report["forecast"]
    logger.info("%-28s %s %s seed %d: %s trades, return %.1f %%, cache %s", rule, symbol,
                period[0][:4], seed, metrics["trades"], metrics["total_return_pct"],
                report["timing"]["cache"])
    return {"rule": rule, "symbol": symbol, "period": period[0][:4], "seed": seed,
            "trades": metrics["trades"], "exposure": metrics["exposure_pct"],
            "sharpe": metrics["sharpe"] or 0.0, "return": metrics["total_return_pct"],
            "fees_pct": metrics["fees_pct"], "max_dd": metrics["max_drawdown_pct"],
            "bh_max_dd": benchmark["max_drawdown_pct"], "bh_sharpe": benchmark["sharpe"],
            "bh_return": benchmark["total_return_pct"], "hit_rate": forecast["hit_rate"],
            "best_naive": forecast["best_naive_hit_rate"]}


def summary(cells):
    """One row per rule, in `RULES` order."""
    grouped = cells.assign(beat_bh=cells["return"] > cells["bh_return"],
                           open_only=cells["trades"].eq(0) & cells["exposure"].gt(0),
                           idle=cells["exposure"].eq(0),
                           hit_beats_naive=cells["hit_rate"] > cells["best_naive"])
    table = grouped.groupby("rule", sort=False).agg(
        trades_median=("trades", "median"), trades_total=("trades", "sum"),
        exposure_median=("exposure", "median"), sharpe_median=("sharpe", "median"),
        bh_sharpe_median=("bh_sharpe", "median"), return_median=("return", "median"),
        bh_return_median=("bh_return", "median"), max_dd_median=("max_dd", "median"),
        bh_max_dd_median=("bh_max_dd", "median"), fees_pct_median=("fees_pct", "median"),
        beat_bh_return_share=("beat_bh", "mean"), held_open_no_close=("open_only", "sum"),
        never_in=("idle", "sum"), hit_rate_median=("hit_rate", "median"),
        best_naive_median=("best_naive", "median"), hit_beats_naive=("hit_beats_naive", "mean"))
    return table.round({name: 3 if name.startswith(("hit", "best")) else 2
                        for name in table.columns}).replace({np.nan: None})


if __name__ == "__main__":
    main()
