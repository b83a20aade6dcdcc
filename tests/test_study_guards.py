"""Figures a study rests on, pinned where a slip would go unseen: a resume's idea of a finished
cell, the proportional size's cap, and the rows and columns of a backtest's tables (each row's
own metric, buy and hold's column its own figures)."""

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from lstm_bt.report.html import html_report
from lstm_bt.report.table import stats_series
from lstm_bt.stats import METRIC_KEYS
from lstm_bt.strategies.sizing import target_size
from lstm_bt.sweeps.results import SweepDir

# Labels a reader looks for and the key each must show (written out here, not read from the
# code's own table, so a row pointed at another key is noticed).
ROWS = {"Return [%]": "total_return_pct", "CAGR [%]": "cagr_pct", "Sharpe": "sharpe",
        "Sortino": "sortino", "Calmar": "calmar", "Max. drawdown [%]": "max_drawdown_pct",
        "Volatility [% a year]": "volatility_pct", "Trades": "trades",
        "Final value [quote]": "final_value"}


def _result(key, status, seed):
    ok = status == "ok"
    returns = np.random.default_rng(seed).normal(size=50)
    return {"key": key, "status": status, "error": "" if ok else "ValueError: made up",
            "report": {"metrics": {"sharpe": float(returns.mean())}} if ok else None,
            "returns": returns if ok else None, "train_s": 1.0, "total_s": 2.0}


def test_a_failed_cell_is_stored_but_a_resume_runs_it_again(tmp_path):
    directory = SweepDir(tmp_path / "sweep")
    directory.prepare("[data]\n")
    for key, status, seed in (("a", "ok", 0), ("b", "failed", 1), ("c", "ok", 2)):
        directory.store(_result(key, status, seed))
    assert directory.finished(["a", "b", "c", "d"]) == {"a", "c"}
    failed = directory.load("b")
    assert failed["status"] == "failed" and failed["returns"] is None
    np.testing.assert_array_equal(directory.load("c")["returns"],
                                  np.random.default_rng(2).normal(size=50))


@pytest.mark.parametrize("signal", [1, -1])
def test_a_proportional_size_is_capped_at_fraction_of_equity(signal):
    common = dict(equity=10_000.0, price=50_000.0, fraction=0.5, stake=1.0, scale=100.0)
    # 100 x 0.002 = 0.2 of the cap; 100 x 0.05 = 5 times it: capped at fraction.
    assert target_size("proportional", signal, 0.002, **common) == pytest.approx(signal * 0.02)
    assert target_size("proportional", signal, 0.05, **common) == pytest.approx(signal * 0.1)
    assert target_size("proportional", signal, -0.05, **common) == pytest.approx(signal * 0.1)
    assert target_size("all_in", signal, 0.05, **common) == pytest.approx(signal * 0.1)


def _report():
    """A report whose every figure is distinct: metrics 1.01, 2.02, ...; buy and hold -1.01,
    -2.02, ...; so a row or column showing another figure cannot pass."""
    metrics = {key: 1.01 * (i + 1) for i, key in enumerate(METRIC_KEYS)}
    benchmark = {key: -1.01 * (i + 1) for i, key in enumerate(METRIC_KEYS)}
    return {"data": {"symbol": "AAAUSDT", "interval": "1h", "start": "2024-01-01T00:00:00",
                     "end": "2024-06-01T00:00:00", "bars": 48},
            "params": {"cash": 10_000.0}, "metrics": metrics, "benchmark": benchmark,
            "forecast": {"n": 40, "hit_rate": 0.55, "p_value": 0.2, "baseline_hit_rate": 0.5,
                         "reversal_hit_rate": 0.5, "best_naive_hit_rate": 0.5, "ic": 0.1,
                         "rmse": 1.0, "mae": 0.5},
            "timing": {"total_s": 1.0, "train_s": 0.5, "predict_s": 0.1, "retrains": 2}}


class _Rows(HTMLParser):
    """The rows of the page's metrics table: label -> the texts of its cells."""

    def __init__(self, text):
        super().__init__()
        self.rows, self._row, self._inside, self._table = {}, None, False, False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = ("class", "metrics") in attrs
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._inside = True
            self._row.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._inside = False
        elif tag == "tr" and self._row:
            self.rows[self._row[0].rstrip(" *")] = self._row[1:]
            self._row = None

    def handle_data(self, data):
        if self._inside:
            self._row[-1] += data


def test_each_row_of_the_html_metrics_table_shows_its_own_metric_and_buy_and_holds():
    report = _report()
    index = pd.date_range("2024-01-01", periods=48, freq="h")
    equity = pd.DataFrame({"value": np.linspace(10_000, 10_500, 48),
                           "benchmark": np.linspace(10_000, 9_500, 48)}, index=index)
    rows = _Rows(html_report(equity, report=report)).rows
    for label, key in ROWS.items():
        strategy, hold = (f"{report[part][key]:,.{0 if key == 'trades' else 2}f}"
                          for part in ("metrics", "benchmark"))
        assert rows[label] == [strategy, hold], label


def test_each_row_of_the_stats_series_shows_its_own_metric_and_buy_and_holds():
    report = _report()
    series = stats_series(report)
    for label, key in ROWS.items():
        assert series[label] == report["metrics"][key], label
        assert series[f"Buy & hold {label}"] == report["benchmark"][key], label
