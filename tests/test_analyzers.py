"""lstm_bt.analyzers on real backtrader runs: an SMA crossover that knows nothing about
lstm-bt, and a stand-in for LSTMStrategy's `forecasts_frame()` seam."""

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import backtrader as bt
import empyrical
import numpy as np
import pandas as pd
import pytest

from helpers.backtest import DAILY, HOURLY, PublishesForecasts, run, sma_frame
from lstm_bt import analyzers, stats
from lstm_bt.errors import InvalidParameter

START_CASH = 10_000.0
HELPERS = Path(__file__).parent / "helpers" / "backtest.py"
ANALYZERS_FILE = Path(analyzers.__file__)


def equity_returns(strat, name="equity"):
    curve = strat.analyzers.getbyname(name).get_analysis()
    return stats.simple_returns(curve["value"], START_CASH)


def test_hourly_sharpe_is_annualized_with_8760_where_backtraders_gives_none():
    strat = run(sma_frame(interval="1h"), feed=HOURLY, analyzers=[
        ("sharpe", analyzers.SharpeRatio, {}),
        ("equity", analyzers.EquityCurve, {}),
        ("bt_sharpe", bt.analyzers.SharpeRatio, {}),
    ])
    ours = strat.analyzers.sharpe.get_analysis()
    expected = empyrical.sharpe_ratio(equity_returns(strat), annualization=8760)
    assert ours["bars_per_year"] == 8760
    assert ours["sharperatio"] == pytest.approx(expected, rel=1e-12)
    # backtrader's default wants yearly returns: an hourly run of 1000 bars has none to give.
    assert strat.analyzers.bt_sharpe.get_analysis()["sharperatio"] is None


def test_daily_feed_annualizes_with_365_and_bars_per_year_overrides():
    frame = sma_frame(interval="1d")
    strat = run(frame, feed=DAILY, analyzers=[
        ("sortino", analyzers.SortinoRatio, {}),
        ("sortino_252", analyzers.SortinoRatio, {"bars_per_year": 252}),
        ("equity", analyzers.EquityCurve, {}),
    ])
    returns = equity_returns(strat)
    assert strat.analyzers.sortino.get_analysis()["sortinoratio"] == pytest.approx(
        empyrical.sortino_ratio(returns, annualization=365), rel=1e-12)
    assert strat.analyzers.sortino_252.get_analysis()["sortinoratio"] == pytest.approx(
        empyrical.sortino_ratio(returns, annualization=252), rel=1e-12)


def test_max_drawdown_equals_backtraders_drawdown():
    strat = run(sma_frame(), analyzers=[
        ("drawdown", analyzers.MaxDrawdown, {}),
        ("bt_drawdown", bt.analyzers.DrawDown, {}),
    ])
    ours = strat.analyzers.drawdown.get_analysis()
    theirs = strat.analyzers.bt_drawdown.get_analysis()["max"]
    assert ours["max_drawdown_pct"] == pytest.approx(theirs["drawdown"], rel=1e-12)
    assert ours["max_drawdown_bars"] == theirs["len"] > 0


def test_start_leaves_warm_up_bars_out_of_every_figure():
    frame = sma_frame()
    start = frame.index[400].to_pydatetime()
    whole = run(frame, analyzers=[
        ("equity", analyzers.EquityCurve, {}),
        ("trades", analyzers.TradeLog, {}),
    ])
    strat = run(frame, analyzers=[
        (name, cls, {"start": start}) for name, cls in analyzers.ANALYZERS.items()
    ])
    everything = whole.analyzers.equity.get_analysis()
    all_trades = pd.DataFrame(whole.analyzers.trades.get_analysis())
    curve = strat.analyzers.equity.get_analysis()
    assert curve["datetime"][0] == start and len(curve["datetime"]) == len(frame) - 400
    # The SMA strategy trades during warm-up, so W_0 is the value at the bar before start.
    value_before = everything["value"][399]
    assert value_before != START_CASH
    assert curve["benchmark"][0] == pytest.approx(value_before)
    late_trades = all_trades[all_trades["close_datetime"] >= start]
    assert 0 < len(late_trades) < len(all_trades)
    expected = stats.compute_metrics(
        everything["value"][400:], value_before, 8760,
        trades=late_trades["pnl_net"], exposure=strat.analyzers.metrics.exposed,
        fees=strat.analyzers.metrics.fees,
        trade_entry_values=late_trades["size"] * late_trades["entry_price"],
        trade_bars_held=late_trades["bars_held"],
    )
    assert strat.analyzers.metrics.get_analysis() == pytest.approx(expected)
    assert strat.analyzers.sharpe.get_analysis()["bars"] == len(frame) - 400
    assert strat.analyzers.trades.get_analysis()["close_datetime"] == list(
        late_trades["close_datetime"].dt.to_pydatetime())


class _MeasuresEveryOtherBar(analyzers.EquityCurve):
    """An analyzer whose `next` skips the shared one on every other bar."""

    def next(self):
        if len(self.data) % 2:
            super().next()


def test_analyzers_sharing_each_bar_record_what_one_alone_records():
    """The first measured analyzer reads each bar for the others; where it skipped a bar, the
    others read it themselves rather than take its last one."""
    frame = sma_frame()
    alone = run(frame, analyzers=[("equity", analyzers.EquityCurve, {})])
    shared = run(frame, analyzers=[
        ("sometimes", _MeasuresEveryOtherBar, {}),
        ("drawdown", analyzers.MaxDrawdown, {}),
        ("equity", analyzers.EquityCurve, {}),
    ])
    expected = alone.analyzers.equity.get_analysis()
    assert len(expected["value"]) == len(frame)
    assert shared.analyzers.equity.get_analysis() == expected
    assert len(shared.analyzers.sometimes.get_analysis()["value"]) == len(frame) // 2


def test_metrics_on_an_sma_strategy_match_backtraders_own_trade_count():
    frame = sma_frame()
    strat = run(frame, analyzers=[
        ("metrics", analyzers.Metrics, {}),
        ("trades", analyzers.TradeLog, {}),
        ("bt_trades", bt.analyzers.TradeAnalyzer, {}),
        ("tx", bt.analyzers.Transactions, {}),
    ])
    metrics = strat.analyzers.metrics.get_analysis()
    log = pd.DataFrame(strat.analyzers.trades.get_analysis())
    theirs = strat.analyzers.bt_trades.get_analysis()
    assert tuple(metrics) == stats.METRIC_KEYS
    assert metrics["trades"] == theirs.total.closed == len(log) > 5
    assert metrics["win_rate_pct"] == pytest.approx(100 * theirs.won.total / theirs.total.closed)
    assert metrics["final_value"] == pytest.approx(strat.broker.getvalue())
    # Orders fill at the next open: a closed trade was held at the close of `bars_held` bars,
    # and the trade still open at the end since its fill.
    assert strat.position.size != 0
    last_fill = max(strat.analyzers.tx.get_analysis())
    still_open = 1000 - frame.index.get_loc(last_fill)
    assert metrics["exposure_pct"] == pytest.approx(
        100 * (log["bars_held"].sum() + still_open) / 1000)
    # Every entry and exit price is a real fill backtrader recorded.
    fills = {(round(abs(amount), 9), round(price, 9))
             for rows in strat.analyzers.tx.get_analysis().values()
             for amount, price, *_ in rows}
    for row in log.itertuples():
        assert (round(row.size, 9), round(row.entry_price, 9)) in fills
        assert (round(row.size, 9), round(row.exit_price, 9)) in fills
        assert row.pnl_net == pytest.approx(row.pnl - row.commission)
        assert row.side == "long" and row.bars_held > 0


@pytest.mark.parametrize("short", [False, True], ids=["long", "long_short"])
def test_fees_and_trade_figures_match_backtraders_own_records(short):
    frame = sma_frame()
    start = frame.index[300].to_pydatetime()
    strat = run(frame, short=short, analyzers=[
        ("metrics", analyzers.Metrics, {"start": start}),
        ("metrics_all", analyzers.Metrics, {}),
        ("trades", analyzers.TradeLog, {"start": start}),
        ("bt_trades", bt.analyzers.TradeAnalyzer, {}),
        ("tx", bt.analyzers.Transactions, {}),
    ])
    metrics = strat.analyzers.metrics.get_analysis()
    # Fees: commission 0.001 of every fill's value from `start` on, as backtrader logged it.
    fills = [(when, value) for when, rows in strat.analyzers.tx.get_analysis().items()
             for *_, value in rows]
    paid = 0.001 * sum(abs(value) for when, value in fills if when >= start)
    assert 0 < paid < 0.001 * sum(abs(value) for _, value in fills)
    assert metrics["fees"] == pytest.approx(paid, rel=1e-9)
    assert metrics["fees_pct"] == pytest.approx(100 * paid / START_CASH * (
        START_CASH / strat.analyzers.metrics.start_value))
    assert metrics["net_pnl"] == pytest.approx(
        strat.broker.getvalue() - strat.analyzers.metrics.start_value)
    assert metrics["gross_pnl"] == pytest.approx(metrics["net_pnl"] + paid)
    # Trade figures by hand from the trade log, and against backtrader's TradeAnalyzer.
    log = pd.DataFrame(strat.analyzers.trades.get_analysis())
    wins, losses = log["pnl_net"][log["pnl_net"] > 0], log["pnl_net"][log["pnl_net"] < 0]
    assert metrics["profit_factor"] == pytest.approx(wins.sum() / -losses.sum())
    percent = 100 * log["pnl_net"] / (log["size"] * log["entry_price"])
    assert metrics["avg_trade_pct"] == pytest.approx(percent.mean())
    assert metrics["best_trade_pct"] == pytest.approx(percent.max())
    assert metrics["worst_trade_pct"] == pytest.approx(percent.min())
    assert metrics["avg_bars_held"] == pytest.approx(log["bars_held"].mean())
    # Measured from the first bar, the figures are TradeAnalyzer's over all closed trades.
    every = strat.analyzers.metrics_all.get_analysis()
    theirs = strat.analyzers.bt_trades.get_analysis()
    assert len(log) < theirs.total.closed == every["trades"]
    assert every["profit_factor"] == pytest.approx(
        theirs.won.pnl.total / -theirs.lost.pnl.total)
    assert every["avg_bars_held"] == pytest.approx(theirs.len.average)


def test_benchmark_trade_figures_are_the_one_buy_and_hold_trade():
    frame = sma_frame(300)
    strat = run(frame, analyzers=[("benchmark", analyzers.Benchmark, {})])
    benchmark = strat.analyzers.benchmark.get_analysis()
    closes = frame["close"].to_numpy()
    assert benchmark["fees"] == 0.0 and benchmark["gross_pnl"] == benchmark["net_pnl"]
    assert benchmark["avg_trade_pct"] == pytest.approx(100 * (closes[-1] / closes[0] - 1))
    assert benchmark["avg_bars_held"] == len(frame) - 1
    assert benchmark["profit_factor"] is None or closes[-1] < closes[0]


def test_trade_log_prices_are_real_fills_for_longs_and_shorts():
    strat = run(sma_frame(), short=True, analyzers=[
        ("trades", analyzers.TradeLog, {}),
        ("tx", bt.analyzers.Transactions, {}),
    ])
    log = pd.DataFrame(strat.analyzers.trades.get_analysis())
    fills = [(amount, price) for rows in strat.analyzers.tx.get_analysis().values()
             for amount, price, *_ in rows]
    assert set(log["side"]) == {"long", "short"}
    for row in log.itertuples():
        opening = 1 if row.side == "long" else -1
        # A reversal is one fill that closes a trade and opens the next: match sign and price.
        assert any(np.sign(a) == opening and p == pytest.approx(row.entry_price)
                   for a, p in fills)
        assert any(np.sign(a) == -opening and p == pytest.approx(row.exit_price)
                   for a, p in fills)


def test_benchmark_is_buy_and_hold_from_the_first_measured_close():
    frame = sma_frame()
    start = frame.index[100].to_pydatetime()
    strat = run(frame, analyzers=[
        ("benchmark", analyzers.Benchmark, {"start": start}),
        ("equity", analyzers.EquityCurve, {"start": start}),
    ])
    benchmark = strat.analyzers.benchmark.get_analysis()
    curve = strat.analyzers.equity.get_analysis()
    closes = frame["close"].to_numpy()[100:]
    w0 = curve["benchmark"][0]
    assert np.allclose(curve["benchmark"], w0 * closes / closes[0])
    assert benchmark["final_value"] == pytest.approx(w0 * closes[-1] / closes[0])
    assert benchmark["exposure_pct"] == 100.0 and benchmark["trades"] == 1
    assert benchmark["sharpe"] == pytest.approx(
        empyrical.sharpe_ratio(np.r_[0.0, closes[1:] / closes[:-1] - 1], annualization=8760))


def test_forecast_skill_reads_the_strategys_forecasts_from_start():
    frame = sma_frame(600)
    close = frame["close"]
    rng = np.random.default_rng(5)
    # Right about the next move 70 % of the time; forecasts only from bar 100 on.
    next_close = close.shift(-1)
    right = rng.random(len(close)) < 0.7
    predicted = close + np.where(right, 1, -1) * (next_close - close)
    predicted = predicted.iloc[100:-1]
    start = frame.index[200].to_pydatetime()
    strat = run(frame, strategy=PublishesForecasts, predicted=predicted, analyzers=[
        ("forecast", analyzers.ForecastSkill, {"start": start}),
    ])
    skill = strat.analyzers.forecast.get_analysis()
    aligned = predicted.reindex(close.index)
    aligned[close.index < start] = np.nan
    assert skill == pytest.approx(stats.forecast_skill(close.to_numpy(), aligned.to_numpy()))
    assert skill["n"] == len(close) - 201
    assert 0.6 < skill["hit_rate"] < 0.8 and skill["p_value"] < 1e-6


def test_forecast_skill_on_a_strategy_without_forecasts_is_empty():
    strat = run(sma_frame(200), analyzers=[("forecast", analyzers.ForecastSkill, {})])
    assert strat.analyzers.forecast.get_analysis() == {
        key: 0 if key == "n" else None for key in stats.FORECAST_KEYS}


def test_add_all_adds_every_analyzer_under_its_report_name():
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=sma_frame(300), **HOURLY))
    cerebro.addstrategy(bt.Strategy)
    analyzers.add_all(cerebro, start=datetime(2024, 1, 3), risk_free=0.03)
    strat = cerebro.run()[0]
    names = ["sharpe", "sortino", "drawdown", "metrics", "benchmark", "forecast", "equity",
             "trades"]
    assert strat.analyzers.getnames() == names
    assert strat.analyzers.metrics.p.risk_free == 0.03
    assert strat.analyzers.equity.get_analysis()["datetime"][0] == datetime(2024, 1, 3)


def test_add_all_names_a_misspelt_param():
    with pytest.raises(InvalidParameter, match=r"Did you mean .risk_free.\?"):
        analyzers.add_all(bt.Cerebro(), riskfree=0.03)


def test_a_feed_without_a_bar_length_asks_for_bars_per_year():
    with pytest.raises(InvalidParameter, match="bars_per_year="):
        run(sma_frame(100), feed={"timeframe": bt.TimeFrame.Ticks, "compression": 1},
            analyzers=[("sharpe", analyzers.SharpeRatio, {})])


def test_btrun_loads_an_analyzer_with_no_arguments(tmp_path):
    frame = sma_frame(200, interval="1d")
    csv = tmp_path / "bars.csv"
    frame.assign(openinterest=0).rename_axis("Date")[
        ["open", "high", "low", "close", "volume", "openinterest"]
    ].to_csv(csv, date_format="%Y-%m-%d", header=["Open", "High", "Low", "Close", "Volume",
                                                  "OpenInterest"])
    btrun = [sys.executable, "-c", "import sys; from backtrader.btrun import btrun; "
             "sys.argv[0] = 'btrun'; btrun()"]
    result = subprocess.run(
        btrun + ["--data", str(csv), "--format", "btcsv", "--nostdstats",
                 "--strategy", f"{HELPERS}:SmaCross",
                 "--analyzer", f"{ANALYZERS_FILE}:SortinoRatio", "--pranalyzer"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # The same run in this process (btrun's broker charges no commission) gives the same figure.
    here = run(frame, feed=DAILY, commission=0.0,
               analyzers=[("sortino", analyzers.SortinoRatio, {})])
    printed = dict(line.strip(" -").split(": ") for line in result.stdout.splitlines()
                   if line.startswith("  - "))
    assert float(printed["sortinoratio"]) == pytest.approx(
        here.analyzers.sortino.get_analysis()["sortinoratio"], rel=1e-12)
    assert printed["bars_per_year"] == "365.0" and printed["bars"] == "200"
