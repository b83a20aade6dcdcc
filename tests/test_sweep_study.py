"""A real study from the command: two kline files, a real Dask LocalCluster, tiny models.

Each cell must be measured on its own file's bars, and the command must print the verdict it
wrote and point at report.html.
"""

import json

import numpy as np
import pandas as pd
import pytest

from helpers.cli_runs import lstm_bt
from lstm_bt.binance.files import write_kline_csv
from lstm_bt.data.synthetic import ar1_returns, random_walk
from lstm_bt.run.backtest_data import load_backtest_data
from lstm_bt.sweeps.cell import replay, required_history
from lstm_bt.sweeps.spec import spec_to_toml

pytestmark = pytest.mark.slow

PERIOD = ("2024-01-04", "2024-01-13")
MODEL = {"seq_len": 8, "train_window": 60, "retrain_every": 48, "units": [4], "epochs": 1}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two files whose markets differ (a rising AR(1) at 30,000, a random walk at 2,000), one
    seed, two thresholds: 4 cells, 2 walk-forwards, run by `lstm-bt sweep --workers 1`."""
    folder = tmp_path_factory.mktemp("study")
    files = {"AAAUSDT": ar1_returns(300, phi=0.3, seed=3),
             "BBBUSDT": random_walk(300, price=2_000.0, seed=8)}
    for symbol, frame in files.items():
        write_kline_csv(folder / f"{symbol}.csv", frame, "1h")
    spec = {"data": {"files": [str(folder / f"{s}.csv") for s in files], "interval": "1h",
                     "periods": [list(PERIOD)]},
            "run": {"seeds": [0]}, "model": MODEL,
            "trading": {"threshold": [0.0, 0.001], "sizing": "all_in"}}
    (folder / "spec.toml").write_text(spec_to_toml(spec))
    out = folder / "out"
    done = lstm_bt("sweep", folder / "spec.toml", "--out", out, "--workers", 1, "--quiet")
    return folder, out, done


def test_the_command_prints_the_verdict_it_wrote_and_points_at_report_html(study):
    _, out, done = study
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == f"report: {out / 'report.html'}"
    assert lines[-2] == summary["verdict"]
    assert "4 backtests (2 configs), 0 failed." in lines[0]
    assert "9 days" in " ".join(summary["warnings"])  # the 9-day window is warned about
    assert summary["significant"] is False or summary["pbo"] < 0.5
    breakdown = pd.read_csv(out / "breakdown.csv")
    assert sorted(zip(breakdown["config"], breakdown["symbol"])) == [
        (0, "AAAUSDT"), (0, "BBBUSDT"), (1, "AAAUSDT"), (1, "BBBUSDT")]
    assert (out / "report.html").stat().st_size > 100_000


def test_each_cell_is_measured_on_its_own_files_bars(study):
    # Buy and hold does not depend on the forecasts: replaying made-up forecasts on each file
    # gives each symbol's own buy and hold, which its cells must show.
    folder, out, _ = study
    cells = pd.read_csv(out / "cells.csv")
    seen = {}
    for symbol in ("AAAUSDT", "BBBUSDT"):
        bars = load_backtest_data(folder / f"{symbol}.csv", start=PERIOD[0], end=PERIOD[1],
                                  history=required_history(MODEL))
        measured = bars.frame["close"].iloc[bars.history:]
        report, _ = replay(bars, measured, MODEL | {"units": (4,)},
                           {"threshold": 0.0, "sizing": "all_in"},
                           {"cash": 10_000.0, "commission": 0.001, "slippage": 0.0})
        mine = cells[cells["symbol"] == symbol]
        for key in ("total_return_pct", "sharpe", "max_drawdown_pct", "final_value"):
            np.testing.assert_allclose(mine[f"bh_{key}"], report["benchmark"][key], rtol=1e-12)
        seen[symbol] = report["benchmark"]["total_return_pct"]
    assert seen["AAAUSDT"] != pytest.approx(seen["BBBUSDT"], abs=0.1)
