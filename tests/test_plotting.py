"""lstm_bt.report.plotting: PNGs a person can read, drawn without a display and without touching
matplotlib's global state."""

import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from helpers.backtest import run, sma_frame
from lstm_bt import analyzers, stats
from lstm_bt.errors import InvalidParameter
from lstm_bt.report.plotting import plot_equity, plot_forecasts, plot_training_loss

TESTS = Path(__file__).parent


def assert_readable_png(path, min_width=1000, min_height=600):
    """The file is a PNG of a real chart: big enough, and far from one flat colour."""
    pixels = imread(path)
    height, width = pixels.shape[:2]
    assert width >= min_width and height >= min_height, (width, height)
    grey = pixels[..., :3].mean(axis=2)
    assert grey.std() > 0.05, "image is (nearly) one colour"
    assert (grey < 0.9).mean() > 0.02, "almost nothing drawn on the white background"


@pytest.fixture(scope="module")
def sma_run():
    frame = sma_frame(1200)
    strat = run(frame, analyzers=[
        (name, cls, {"start": frame.index[200]}) for name, cls in analyzers.ANALYZERS.items()
    ])
    return frame, strat


def sma_report(strat, start="2024-01-09T08:00:00", end="2024-02-20T00:00:00"):
    return {"data": {"symbol": "BTCUSDT", "interval": "1h", "start": start, "end": end},
            "metrics": strat.analyzers.metrics.get_analysis(),
            "benchmark": strat.analyzers.benchmark.get_analysis()}


def test_equity_plot_shows_strategy_buy_and_hold_drawdown_positions_and_retrains(sma_run,
                                                                                 tmp_path):
    _, strat = sma_run
    equity = pd.DataFrame(strat.analyzers.equity.get_analysis()).set_index("datetime")
    trades = pd.DataFrame(strat.analyzers.trades.get_analysis())
    fits = [{"window_end": when} for when in equity.index[::168]]
    report = sma_report(strat)
    figure = plot_equity(equity, tmp_path / "equity.png", symbol="BTCUSDT", interval="1h",
                         trades=trades, training=fits, report=report)
    assert_readable_png(tmp_path / "equity.png")
    top, bottom = figure.axes
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "Strategy", "Buy and hold", "In a position", f"Retrain ({len(fits)})"]
    # One shaded span per trade, from its open to its close.
    spans = next(c for c in top.collections if c.get_label() == "In a position")
    assert len(spans.get_paths()) == len(trades) > 5
    first = spans.get_paths()[0].vertices
    assert mdates.num2date(first[0, 0]).replace(tzinfo=None) == trades["open_datetime"][0]
    assert mdates.num2date(first[2, 0]).replace(tzinfo=None) == trades["close_datetime"][0]
    box = top.texts[0].get_text()
    assert f"trades {len(trades)}" in box and "Sharpe" in box
    assert "to 2024-02-20 00:00 UTC, end exclusive" in figure.get_suptitle()
    assert "value" in top.get_ylabel() and bottom.get_ylabel() == "Drawdown (%)"
    drawdown = bottom.lines[0].get_ydata()
    assert drawdown.max() == 0 and drawdown.min() < -1
    assert top.get_yscale() == "linear"
    logged = plot_equity(equity, log=True).axes[0]
    assert logged.get_yscale() == "log" and "log scale" in logged.get_ylabel()


@pytest.fixture(scope="module")
def sma_forecasts(sma_run):
    frame, strat = sma_run
    close = frame["close"]
    predicted = (close + 0.5 * (close.shift(-1) - close)).iloc[200:-1]
    forecasts = pd.DataFrame({"close": close.reindex(predicted.index),
                              "predicted_close": predicted,
                              "signal": np.sign(predicted - close.reindex(predicted.index))})
    return forecasts, pd.DataFrame(strat.analyzers.trades.get_analysis())


def test_forecast_plot_shades_trades_by_result_and_marks_the_close_up(sma_forecasts, tmp_path):
    forecasts, trades = sma_forecasts
    figure = plot_forecasts(forecasts, tmp_path / "forecasts.png", trades=trades,
                            symbol="BTCUSDT", interval="1h")
    assert_readable_png(tmp_path / "forecasts.png")
    overview, close_up, hits = figure.axes
    # Full scale: no markers to blur together, each trade a span coloured by its result.
    won = (trades["pnl_net"] > 0).sum()
    spans = {c.get_label(): len(c.get_paths()) for c in overview.collections}
    assert spans == {f"Trade won ({won})": won,
                     f"Trade lost ({len(trades) - won})": len(trades) - won}
    assert len(overview.lines) == 1  # the close only: the forecast would hide it
    # Close-up: every entry and exit in its span, green for a won trade, red for a lost one.
    assert len(close_up.lines[0].get_xdata()) == 250 and "Last 250 bars" in close_up.get_title()
    first_bar = forecasts.index[-250]
    entries, exits = close_up.collections
    shown = trades[trades["open_datetime"] >= first_bar]
    assert len(entries.get_offsets()) == len(shown) > 0
    expected = np.where(shown["pnl_net"] > 0, "tab:green", "tab:red")
    assert [tuple(c) for c in entries.get_facecolors()] == [
        tuple(mcolors.to_rgba(c)) for c in expected]
    # Each forecast is drawn at the bar it predicts, one bar after it was made.
    assert pd.Timestamp(close_up.lines[1].get_xdata()[0]) == forecasts.index[-249]


def test_forecast_plot_shows_the_rolling_hit_rate_against_the_best_naive_rule(sma_forecasts):
    forecasts, trades = sma_forecasts
    hits = plot_forecasts(forecasts, trades=trades, hit_window=50).axes[-1]
    skill = stats.forecast_skill(forecasts["close"].to_numpy(),
                                 forecasts["predicted_close"].to_numpy())
    rule, _ = stats.best_naive_rule(skill)
    model, naive = hits.get_legend().get_texts()
    assert model.get_text() == f"Forecast ({skill['hit_rate']:.3f} overall)"
    assert naive.get_text() == f"Naive: {rule} ({skill['best_naive_hit_rate']:.3f} overall)"
    # The model line is the share of hits over the last 50 scored bars.
    scored = stats.direction_hits(forecasts["close"], forecasts["predicted_close"])[0]
    scored = scored[np.isfinite(scored)]
    assert hits.lines[0].get_ydata()[-1] == pytest.approx(scored[-50:].mean())


def test_forecast_plot_without_trades_marks_signal_changes(tmp_path):
    index = pd.date_range("2024-01-01", periods=6, freq="h", name="datetime")
    forecasts = pd.DataFrame({"close": [1.0, 2, 3, 2, 1, 2], "predicted_close": [2.0] * 6,
                              "signal": [0, 1, 1, 0, -1, 1]}, index=index).reset_index()
    axis = plot_forecasts(forecasts, title="signals").axes[0]
    buys, sells = (collection.get_offsets() for collection in axis.collections)
    assert len(buys) == 2 and len(sells) == 2


def test_every_plot_names_the_reports_end_exclusive(sma_run):
    _, strat = sma_run
    report = sma_report(strat)
    equity = pd.DataFrame(strat.analyzers.equity.get_analysis()).set_index("datetime")
    history = [{"window_end": equity.index[100], "loss": [1.0, 0.5]}]
    titles = [plot_equity(equity, report=report).get_suptitle(),
              plot_training_loss(history, report=report).get_suptitle()]
    for title in titles:
        assert "2024-01-09 08:00 to 2024-02-20 00:00 UTC, end exclusive" in title


def test_training_loss_plot_has_one_curve_pair_per_window(tmp_path):
    ends = pd.date_range("2024-02-01", periods=5, freq="7D")
    history = [{"window_end": end, "loss": list(0.5 / np.arange(1, 9) + i / 50),
                "val_loss": list(0.6 / np.arange(1, 9) + i / 30)} for i, end in enumerate(ends)]
    figure = plot_training_loss(history, tmp_path / "loss.png", symbol="ETHUSDT", interval="4h")
    assert_readable_png(tmp_path / "loss.png")
    summary, curves = figure.axes[:2]
    assert len(summary.lines) == 2 and len(curves.lines) == 2 * 5 + 2  # + 2 legend keys
    assert "5 retrain windows" in figure.get_suptitle()
    with pytest.raises(InvalidParameter, match="window_end"):
        plot_training_loss([{"loss": [1.0]}])


def test_missing_columns_are_named():
    with pytest.raises(InvalidParameter, match="lacks column.*value"):
        plot_equity(pd.DataFrame({"datetime": [], "equity": []}))


def run_fresh(code):
    """Run `code` in a new interpreter (import-time effects happen only once a process)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=TESTS,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_lstm_bt_does_not_import_matplotlib():
    assert run_fresh("""
        import sys, lstm_bt, lstm_bt.analyzers, lstm_bt.stats
        print("matplotlib" in sys.modules)
    """).strip() == "False"


def test_importing_plotting_changes_no_matplotlib_state():
    assert run_fresh("""
        import sys, matplotlib
        def settings():  # reading rcParams["backend"] would itself pick one: leave it out
            return {key: matplotlib.rcParams[key] for key in matplotlib.rcParams
                    if key != "backend"}
        before = settings()
        backend = matplotlib.get_backend(auto_select=False)
        import lstm_bt.report.plotting
        assert settings() == before
        assert matplotlib.get_backend(auto_select=False) == backend
        assert "matplotlib.pyplot" not in sys.modules
        print("unchanged")
    """).strip() == "unchanged"


def test_cerebro_plot_renders_headless_without_switching_backend(tmp_path):
    png = tmp_path / "cerebro.png"
    out = run_fresh(f"""
        import matplotlib
        use, backend = matplotlib.use, matplotlib.get_backend(auto_select=False)
        import backtrader as bt
        from helpers.backtest import HOURLY, SmaCross, sma_frame
        from lstm_bt.report.plotting import save_cerebro_plot
        cerebro = bt.Cerebro()
        cerebro.adddata(bt.feeds.PandasData(dataname=sma_frame(300), **HOURLY))
        cerebro.addstrategy(SmaCross)
        cerebro.run()
        print(save_cerebro_plot(cerebro, {str(png)!r}, width=12, height=7))
        import matplotlib.pyplot as plt
        assert matplotlib.get_backend(auto_select=False) == backend, "backend switched"
        assert matplotlib.use is use
        assert plt.get_fignums() == [], "figures left in pyplot"
    """)
    assert str(png) in out
    assert_readable_png(png)


def test_cerebro_plot_needs_a_finished_run(tmp_path):
    import backtrader as bt

    from lstm_bt.report.plotting import save_cerebro_plot

    with pytest.raises(InvalidParameter, match="cerebro.run"):
        save_cerebro_plot(bt.Cerebro(), tmp_path / "never.png")
