"""Drawdown is measured from the value before the first measured bar (W_0), not from the
first bar's own value: a strategy that loses on its first measured bar is in a drawdown."""

import backtrader as bt
import numpy as np
import pytest

from lstm_bt import analyzers
from lstm_bt.data.synthetic import random_walk

CASH = 10_000.0
# Bar 0 buys (filled at bar 1's open, 100); bar 1 closes at 95 and bar 2 at 80; then prices
# only rise, so the one drawdown is the fall into bar 1 and bar 2.
CLOSES = [100.0, 95.0, 80.0, 110.0, 120.0, 130.0, 140.0, 150.0]


class BuysOnTheFirstBar(bt.Strategy):
    """Buys 50 units at the first bar and holds; records the value at every close."""

    def start(self):
        self.values = []

    def next(self):
        if len(self) == 1:
            self.buy(size=50)
        self.values.append(self.broker.getvalue())


def _run(start):
    frame = random_walk(len(CLOSES), seed=1)[["open", "high", "low", "close", "volume"]]
    frame[["high", "low", "close"]] = np.column_stack([CLOSES, CLOSES, CLOSES])
    frame["open"] = [CLOSES[0], *CLOSES[:-1]]
    frame["high"] = frame[["open", "close"]].max(axis=1)
    frame["low"] = frame[["open", "close"]].min(axis=1)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=0.001)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame, timeframe=bt.TimeFrame.Minutes,
                                        compression=60))
    cerebro.addstrategy(BuysOnTheFirstBar)
    cerebro.addanalyzer(analyzers.MaxDrawdown, _name="drawdown",
                        start=None if start is None else frame.index[start])
    cerebro.addanalyzer(analyzers.Metrics, _name="metrics",
                        start=None if start is None else frame.index[start])
    return cerebro.run()[0]


@pytest.mark.parametrize("start, w0", [
    (1, "starting cash"),  # flat before bar 1: W_0 is the cash, bar 1 already lost
    (2, "value held"),  # in a position before bar 2: W_0 is bar 1's value, bar 2 lost
], ids=["W0=starting_cash", "W0=value_held_before_start"])
def test_a_loss_on_the_first_measured_bar_is_a_drawdown(start, w0):
    strategy = _run(start)
    values = strategy.values
    before = CASH if start == 1 else values[start - 1]
    assert (before == CASH) == (w0 == "starting cash")
    # The first measured bar is worth less than W_0, so the two are told apart ...
    assert values[start] < before
    trough = min(values[start:])
    expected = 100.0 * (1.0 - trough / before)
    # ... and measuring from the first bar's own value would give a smaller drawdown.
    assert 100.0 * (1.0 - trough / values[start]) < expected - 1.0
    drawdown = strategy.analyzers.drawdown.get_analysis()
    assert drawdown["max_drawdown_pct"] == pytest.approx(expected, rel=1e-12)
    assert drawdown["max_drawdown_bars"] == 3 - start  # under water until the rise at bar 3
    metrics = strategy.analyzers.metrics.get_analysis()
    assert metrics["max_drawdown_pct"] == pytest.approx(expected, rel=1e-12)
    assert metrics["total_return_pct"] == pytest.approx(100.0 * (values[-1] / before - 1.0))

