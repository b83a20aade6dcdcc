"""report.html: one self-contained page that a real browser opens offline without an error,
with every chart and table, written into each run directory beside monthly_returns.csv."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers.backtest import run, sma_frame
from helpers.browser import find_chromium, visit
from lstm_bt import analyzers
from lstm_bt.report.html import write_html_report
from lstm_bt.run.run_dir import RunRecord, read_run_dir, write_run_dir

CASH = 10_000.0
# Every Bokeh figure the page rendered, found by walking BokehJS's views once they exist.
RENDERED = """(() => { if (!window.Bokeh || !Bokeh.index) return null;
  const types = []; const walk = v => { types.push(v.model.type);
    for (const c of (v.child_views ?? [])) walk(c); };
  Object.values(Bokeh.index).forEach(walk);
  const figures = types.filter(t => t === 'Figure').length;
  const canvases = []; const dig = root => root.querySelectorAll('*').forEach(e => {
    if (e.tagName === 'CANVAS') canvases.push(e); if (e.shadowRoot) dig(e.shadowRoot); });
  dig(document);
  return figures ? {figures, drawn: canvases.filter(c => c.width > 100).length,
    metrics: document.querySelectorAll('table.metrics tr').length,
    months: document.querySelectorAll('table.monthly td').length} : null; })()"""


@pytest.fixture(scope="module")
def record():
    """A real backtrader run (SMA crossover over 40 days of hourly bars) as a run record."""
    frame = sma_frame(1000)
    strat = run(frame, analyzers=[(name, cls, {}) for name, cls in analyzers.ANALYZERS.items()])
    equity = pd.DataFrame(strat.analyzers.equity.get_analysis()).set_index("datetime")
    close = frame["close"]
    predicted = close + 0.4 * (close.shift(-1) - close)
    forecasts = pd.DataFrame({"close": close, "predicted_close": predicted,
                              "signal": np.sign(predicted - close)}).iloc[:-1]
    forecasts.index.name = "datetime"
    report = {
        "data": {"symbol": "DEMO", "interval": "1h", "start": "2024-01-01T00:00:00",
                 "end": "2024-02-11T16:00:00", "bars": 1000},
        "params": {"cash": CASH, "commission": 0.001, "slippage": 0.0, "threshold": 0.0},
        "metrics": strat.analyzers.metrics.get_analysis(),
        "benchmark": strat.analyzers.benchmark.get_analysis(),
        "forecast": strat.analyzers.forecast.get_analysis(),
        "timing": {"total_s": 1.0, "train_s": 0.0, "predict_s": 0.0, "retrains": 0},
    }
    return RunRecord(report=report, equity=equity, forecasts=forecasts,
                     trades=pd.DataFrame(strat.analyzers.trades.get_analysis()))


def test_the_page_needs_no_network_and_holds_the_tables(record, tmp_path):
    page = write_html_report(tmp_path / "report.html", record.equity, forecasts=record.forecasts,
                             trades=record.trades, report=record.report).read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # nothing to fetch
    assert "DEMO 1h, 2024-01-01 00:00 to 2024-02-11 16:00 UTC, end exclusive" in page
    assert "<th>Fees [quote]</th>" in page and "<th>Profit factor</th>" in page
    assert page.count("<h3>") == 2  # monthly returns of the strategy and of buy and hold


def test_a_run_directory_gets_report_html_and_monthly_returns(record, tmp_path):
    out = write_run_dir(tmp_path / "run", record)
    assert (out / "report.html").stat().st_size > 100_000
    months = pd.read_csv(out / "monthly_returns.csv")
    assert list(months.columns) == ["year", "month", "strategy_pct", "buy_and_hold_pct"]
    assert months[["year", "month"]].values.tolist() == [[2024, 1], [2024, 2]]
    # Chained, the months give the whole run's return (W_0 = the starting cash).
    for column, key in (("strategy_pct", "metrics"), ("buy_and_hold_pct", "benchmark")):
        chained = 100 * (np.prod(1 + months[column] / 100) - 1)
        assert chained == pytest.approx(record.report[key]["total_return_pct"], rel=1e-6)
    assert read_run_dir(out).report == record.report


@pytest.mark.parametrize("picture, library", [
    ("from lstm_bt.report.html import write_html_report\n"
     "write_html_report(out / 'report.html', run.equity, report=run.report)", "bokeh"),
    ("from lstm_bt.report.plotting import plot_equity\n"
     "plot_equity(run.equity, out / 'equity.png')", "matplotlib")])
def test_each_picture_imports_only_its_own_plotting_library(record, tmp_path, picture, library):
    # A picture drawn alone (`lstm-bt plot`, a notebook) loads no library it does not need.
    out = write_run_dir(tmp_path / "run", record)
    script = (f"import sys; from pathlib import Path\n"
              f"from lstm_bt.run.run_dir import read_run_dir\n"
              f"out = Path({str(out)!r}); run = read_run_dir(out)\n{picture}\n"
              f"print(sorted(name for name in ('bokeh', 'matplotlib') if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == [f"['{library}']"]


@pytest.mark.skipif(find_chromium() is None,
                    reason="no Chromium on PATH (Debian: apt-get install chromium)")
def test_chromium_opens_the_page_offline_with_every_plot_and_no_console_error(record, tmp_path):
    path = write_html_report(tmp_path / "report.html", record.equity, forecasts=record.forecasts,
                             trades=record.trades, report=record.report)
    page = visit(path.as_uri(), RENDERED, timeout=60)
    assert page.errors == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests), page.requests
    assert page.value is not None, "BokehJS rendered no figure"
    assert page.value["figures"] == 3  # equity, drawdown, price with trades and forecasts
    assert page.value["drawn"] >= 3
    assert page.value["metrics"] > 30 and page.value["months"] == 2 * 12


@pytest.mark.skipif(find_chromium() is None,
                    reason="no Chromium on PATH (Debian: apt-get install chromium)")
def test_the_browser_check_catches_a_broken_page(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction();</script>"
                      "<img src='http://127.0.0.1:9/x.png'></body></html>")
    page = visit(broken.as_uri(), "document.readyState === 'complete'", timeout=30)
    assert any("undefinedFunction" in error for error in page.errors)
    assert any(url.startswith("http:") for url in page.requests)


def test_a_result_has_labelled_stats_and_a_plot_a_notebook_shows_inline(record):
    stats = record.stats
    assert stats["Trades"] == record.report["metrics"]["trades"] > 0
    assert stats["Fees [quote]"] == pytest.approx(record.report["metrics"]["fees"])
    assert stats["Buy & hold Return [%]"] == record.report["benchmark"]["total_return_pct"]
    figure = record.plot(log=True)
    assert figure.axes[0].get_yscale() == "log"
    assert figure._repr_png_().startswith(b"\x89PNG")  # what Jupyter displays


def test_demo_klines_is_importable_from_the_top_level():
    import lstm_bt

    assert "demo_klines" in lstm_bt.__all__
    assert len(lstm_bt.demo_klines(bars=50)) == 50
