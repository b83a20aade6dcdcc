"""A backtest's report: a position still open at the end is recorded and drawn as a position,
and report.html names what was run and lists every trade, the open one marked open."""

import re

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from lstm_bt import run_backtest
from lstm_bt.data.synthetic import random_walk
from lstm_bt.report.html import html_report
from lstm_bt.report.plotting import plot_equity, plot_forecasts
from lstm_bt.run.run_dir import read_run_dir, write_run_dir

TINY = {"seq_len": 8, "train_window": 120, "retrain_every": 48, "units": (4,)}
FIRST = 128  # train_window + seq_len: the first tradable bar


@pytest.fixture(scope="module")
def klines():
    return random_walk(300, seed=4)


def replay(klines, entries, exits=()):
    """A backtest that trades given forecasts: a predicted move of +1 % at each bar of
    `entries` (a long from the next open), -0.1 % at each of `exits`, +0.05 % elsewhere
    (below the entry threshold, above the exit one: hold)."""
    moves = np.full(len(klines), 0.0005)
    moves[list(entries)] = 0.01
    moves[list(exits)] = -0.001
    forecasts = pd.Series(klines["close"].to_numpy() * (1 + moves), index=klines.index)
    return run_backtest(klines, symbol="TEST", forecasts=forecasts, **TINY)


@pytest.fixture(scope="module")
def held(klines):
    """One trade closed (bars 141 to 151), then a long from bar 201 held to the end."""
    return replay(klines, entries=[140, 200], exits=[150])


def test_a_position_held_at_the_end_is_in_the_report_marked_to_the_last_close(klines, held):
    (closed,) = held.trades.to_dict("records")
    assert (closed["open_datetime"], closed["close_datetime"]) == (klines.index[141],
                                                                  klines.index[151])
    (still_open,) = held.report["open_trades"]
    entry, mark = klines["open"].iloc[201], klines["close"].iloc[-1]
    assert still_open["open_datetime"] == klines.index[201]
    assert still_open["close_datetime"] is None and still_open["exit_price"] is None
    assert still_open["side"] == "long" and still_open["bars_held"] == 299 - 201
    assert still_open["entry_price"] == pytest.approx(entry)
    assert still_open["mark_price"] == pytest.approx(mark)
    assert still_open["pnl"] == pytest.approx((mark - entry) * still_open["size"])
    assert still_open["pnl_net"] == pytest.approx(still_open["pnl"] - still_open["commission"])
    assert still_open["commission"] == pytest.approx(0.001 * entry * still_open["size"])
    assert held.report["metrics"]["trades"] == 1
    assert replay(klines, entries=[140], exits=[150]).report["open_trades"] == []


def test_the_equity_plot_shades_the_open_position_to_the_end(held):
    figure = plot_equity(held.equity, trades=held.trades, report=held.report)
    spans = {c.get_label(): c for c in figure.axes[0].collections}
    (box,) = spans["In a position, still open at the end"].get_paths()
    start, end = (mdates.num2date(x).replace(tzinfo=None) for x in box.vertices[[0, 2], 0])
    assert start == held.report["open_trades"][0]["open_datetime"]
    assert end == pd.Timestamp(held.report["data"]["end"])
    assert len(spans["In a position"].get_paths()) == 1  # the closed trade


def test_the_forecast_plot_shades_the_open_position_and_marks_its_entry(held):
    opened = held.report["open_trades"][0]
    whole = plot_forecasts(held.forecasts, trades=held.trades, report=held.report)
    panel = whole.axes[0]
    assert "Still open at the end" in [c.get_label() for c in panel.collections]
    marker = next(c for c in panel.collections if c.get_label() == "Entry, still open at the end")
    ((when, price),) = marker.get_offsets()
    assert mdates.num2date(when).replace(tzinfo=None) == opened["open_datetime"]
    assert price == pytest.approx(opened["entry_price"])
    # A long run: the overview shades it, the close-up (after its entry) too, without a marker.
    overview, close_up, _ = plot_forecasts(held.forecasts, trades=held.trades,
                                           report=held.report, zoom_bars=50).axes
    assert "Still open at the end (1)" in [c.get_label() for c in overview.collections]
    assert [c.get_label() for c in close_up.collections] == ["Still open at the end"]


def test_a_redrawn_run_directory_still_shows_the_open_position(held, tmp_path):
    again = read_run_dir(write_run_dir(tmp_path / "run", held, plots=False))
    assert again.report["open_trades"][0]["open_datetime"] == (
        held.report["open_trades"][0]["open_datetime"].isoformat())
    figure = plot_equity(again.equity, trades=again.trades, report=again.report)
    assert "In a position, still open at the end" in [c.get_label()
                                                      for c in figure.axes[0].collections]
    assert "Entry, still open at the end (shaded)" in html_report(
        again.equity, forecasts=again.forecasts, trades=again.trades, report=again.report)


def _table(page, name):
    """The rows of the page's `<table class=name>`, each a list of its cells' text."""
    body = re.search(rf"<table class={name}>(.*?)</table>", page, re.S).group(1)
    return [re.findall(r"<t[hd]>(.*?)</t[hd]>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>",
                                                                            body)]


def test_the_page_names_the_data_and_every_param_of_the_run(held, klines, tmp_path):
    page = html_report(held.equity, forecasts=held.forecasts, trades=held.trades,
                       report=held.report)
    rows = dict(_table(page, "run"))
    assert rows["data source"] == "a kline frame passed in Python"
    assert rows["market"] == "TEST 1h" and rows["bars"] == f"{300 - FIRST}"
    params = held.report["params"]
    assert {"commission", "slippage", "seed", "cash", "threshold", "exit_threshold",
            "seq_len"} <= set(params)
    for name, value in params.items():
        shown = ("none" if value is None or value == () else
                 ", ".join(map(str, value)) if isinstance(value, tuple) else str(value))
        assert rows[name] == shown, name
    # A file run names its path.
    path = tmp_path / "TESTUSDT-1h.csv"
    from lstm_bt.binance import write_kline_csv

    write_kline_csv(path, klines, "1h")
    from_file = run_backtest(path, forecasts=pd.Series(klines["close"].to_numpy(),
                                                       index=klines.index), **TINY)
    page = html_report(from_file.equity, report=from_file.report)
    assert dict(_table(page, "run"))["data source"] == f"file {path.resolve()}"


def test_the_page_lists_every_trade_and_the_open_one_marked_open(klines):
    several = replay(klines, entries=[130, 160, 190, 260], exits=[135, 170, 220])
    trades, (still_open,) = several.trades, several.report["open_trades"]
    assert len(trades) == 3
    page = html_report(several.equity, forecasts=several.forecasts, trades=trades,
                       report=several.report)
    rows = _table(page, "trades")
    assert rows[0][:5] == ["#", "status", "side", "opened (UTC)", "closed (UTC)"]
    listed = rows[1:]
    assert [row[1] for row in listed] == ["closed"] * 3 + ["open"]
    opened = list(trades["open_datetime"]) + [still_open["open_datetime"]]
    assert [row[3] for row in listed] == [f"{when:%Y-%m-%d %H:%M}" for when in opened]
    assert [row[4] for row in listed[:3]] == [f"{when:%Y-%m-%d %H:%M}"
                                             for when in trades["close_datetime"]]
    assert listed[3][4] == "open" and listed[3][7] == f"{still_open['mark_price']:,.2f}"
    assert [row[8] for row in listed] == [f"{pnl:,.2f}" for pnl in
                                          [*trades["pnl_net"], still_open["pnl_net"]]]
