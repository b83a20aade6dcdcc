"""A trade added to or reduced is accounted at its average prices and the capital it used."""

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from helpers.backtest import run, sma_frame
from lstm_bt.analyzers import Metrics, TradeLog


class ScalesInAndOut(bt.Strategy):
    """Buys 10, 10 more, sells 5, then 15: one trade from flat to flat in four fills."""

    plan = {5: 10, 10: 10, 15: -5, 20: -15}

    def next(self):
        size = self.plan.get(len(self))
        if size:
            (self.buy if size > 0 else self.sell)(size=abs(size))


class RebalancesAtRandom(bt.Strategy):
    """Moves to a random target weight every few bars, as proportional sizing does."""

    def start(self):
        self.rng = np.random.default_rng(7)

    def next(self):
        if len(self) % 3 == 0:
            self.order_target_percent(target=float(self.rng.choice([0.0, 0.3, 0.6, 0.95])))


def trades_of(strat):
    return pd.DataFrame(strat.analyzers.trades.get_analysis())


ANALYZERS = [("trades", TradeLog, {}), ("metrics", Metrics, {})]


def test_a_scaled_trade_has_its_average_prices_its_total_size_and_its_peak_capital():
    frame = sma_frame(60)
    strat = run(frame, strategy=ScalesInAndOut, analyzers=ANALYZERS)
    trade = trades_of(strat).iloc[0]
    opens = frame["open"].to_numpy()
    fills = {bar: opens[bar] for bar in ScalesInAndOut.plan}  # orders fill at the next open
    entry = (10 * fills[5] + 10 * fills[10]) / 20
    exit_ = (5 * fills[15] + 15 * fills[20]) / 20
    assert len(trades_of(strat)) == 1 and trade["size"] == 20
    assert trade["entry_price"] == pytest.approx(entry, rel=1e-12)
    assert trade["exit_price"] == pytest.approx(exit_, rel=1e-12)
    assert trade["pnl"] == pytest.approx(20 * (exit_ - entry), rel=1e-9)
    peak_capital = 10 * fills[5] + 10 * fills[10]   # both entries held at once
    expected_pct = 100 * trade["pnl_net"] / peak_capital
    assert strat.analyzers.metrics.get_analysis()["best_trade_pct"] == pytest.approx(expected_pct)


def test_exit_prices_lie_within_the_prices_of_each_trades_holding_period():
    frame = sma_frame(1500)
    strat = run(frame, strategy=RebalancesAtRandom, analyzers=ANALYZERS)
    trades = trades_of(strat)
    assert len(trades) > 10
    for _, trade in trades.iterrows():
        held = frame.loc[trade["open_datetime"]:trade["close_datetime"]]
        assert held["low"].min() <= trade["exit_price"] <= held["high"].max() + 1e-9
        assert held["low"].min() <= trade["entry_price"] <= held["high"].max() + 1e-9
    sign = np.where(trades["side"] == "long", 1.0, -1.0)
    implied = sign * trades["size"] * (trades["exit_price"] - trades["entry_price"])
    np.testing.assert_allclose(implied, trades["pnl"], rtol=1e-9, atol=1e-9)
