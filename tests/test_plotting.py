"""lstm_bt.plotting: PNGs a person can read, drawn without a display and without touching
matplotlib's global state."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from backtest_helpers import run, sma_frame
from lstm_bt import analyzers
from lstm_bt.errors import InvalidParameter
from lstm_bt.plotting import plot_equity, plot_forecasts, plot_training_loss

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


def test_equity_plot_shows_strategy_buy_and_hold_and_drawdown(sma_run, tmp_path):
    _, strat = sma_run
    equity = pd.DataFrame(strat.analyzers.equity.get_analysis()).set_index("datetime")
    figure = plot_equity(equity, tmp_path / "equity.png", symbol="BTCUSDT", interval="1h")
    assert_readable_png(tmp_path / "equity.png")
    top, bottom = figure.axes
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["Strategy", "Buy and hold"]
    assert "BTCUSDT 1h" in figure.get_suptitle() and "2024-01-09 08:00" in figure.get_suptitle()
    assert "value" in top.get_ylabel() and bottom.get_ylabel() == "Drawdown (%)"
    assert "Date" in bottom.get_xlabel()
    drawdown = bottom.lines[0].get_ydata()
    assert drawdown.max() == 0 and drawdown.min() < -1


def test_forecast_plot_marks_every_trade_in_view(sma_run, tmp_path):
    frame, strat = sma_run
    close = frame["close"]
    predicted = (close + 0.5 * (close.shift(-1) - close)).iloc[200:-1]
    forecasts = pd.DataFrame({"close": close.reindex(predicted.index),
                              "predicted_close": predicted,
                              "signal": np.sign(predicted - close.reindex(predicted.index))})
    trades = pd.DataFrame(strat.analyzers.trades.get_analysis())
    figure = plot_forecasts(forecasts, tmp_path / "forecasts.png", trades=trades,
                            symbol="BTCUSDT", interval="1h")
    assert_readable_png(tmp_path / "forecasts.png")
    axis = figure.axes[0]
    buys, sells = (len(collection.get_offsets()) for collection in axis.collections)
    # Long only: a buy at each entry and a sell at each exit that falls in the chart's span.
    assert buys == (trades["open_datetime"] >= predicted.index[0]).sum() == len(trades) - 1
    assert sells == len(trades)
    forecast_line = axis.lines[1]
    # Each forecast is drawn at the bar it predicts, one bar after it was made.
    assert pd.Timestamp(forecast_line.get_xdata()[0]) == predicted.index[1]
    assert axis.get_ylabel() == "Price (quote currency)"
    # A long run gets a close-up of its last bars, where the two lines can be told apart.
    close_up = figure.axes[1]
    assert len(close_up.lines[0].get_xdata()) == 250 and "Last 250 bars" in close_up.get_title()


def test_forecast_plot_without_trades_marks_signal_changes(tmp_path):
    index = pd.date_range("2024-01-01", periods=6, freq="h", name="datetime")
    forecasts = pd.DataFrame({"close": [1.0, 2, 3, 2, 1, 2], "predicted_close": [2.0] * 6,
                              "signal": [0, 1, 1, 0, -1, 1]}, index=index).reset_index()
    axis = plot_forecasts(forecasts, title="signals").axes[0]
    buys, sells = (collection.get_offsets() for collection in axis.collections)
    assert len(buys) == 2 and len(sells) == 2


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
        import lstm_bt.plotting
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
        from backtest_helpers import HOURLY, SmaCross, sma_frame
        from lstm_bt.plotting import save_cerebro_plot
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

    from lstm_bt.plotting import save_cerebro_plot

    with pytest.raises(InvalidParameter, match="cerebro.run"):
        save_cerebro_plot(bt.Cerebro(), tmp_path / "never.png")
