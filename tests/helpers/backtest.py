"""Small backtrader runs shared by the analyzer and stats tests: an SMA crossover on
synthetic klines, and a stand-in for LSTMStrategy that publishes known forecasts."""

import backtrader as bt
import numpy as np
import pandas as pd

from lstm_bt.data.synthetic import random_walk

HOURLY = {"timeframe": bt.TimeFrame.Minutes, "compression": 60}
DAILY = {"timeframe": bt.TimeFrame.Days, "compression": 1}


class SmaCross(bt.Strategy):
    """A plain moving-average crossover, long or flat (long or short with `short`); knows
    nothing about lstm-bt."""

    params = (("fast", 10), ("slow", 30), ("short", False))

    def __init__(self):
        fast = bt.ind.SMA(period=self.p.fast)
        slow = bt.ind.SMA(period=self.p.slow)
        self.cross = bt.ind.CrossOver(fast, slow)

    def next(self):
        if self.cross[0] > 0:
            self.order_target_percent(target=0.95)
        elif self.cross[0] < 0:
            if self.p.short:
                self.order_target_percent(target=-0.95)
            else:
                self.close()


class PublishesForecasts(bt.Strategy):
    """Test double of LSTMStrategy's seam: `forecasts_frame()` from a given Series.

    `predicted` holds, per bar datetime, the forecast of the next close.
    """

    params = (("predicted", None),)

    def forecasts_frame(self):
        predicted = self.p.predicted
        closes = pd.Series(self.data.close.array, index=[
            bt.num2date(x) for x in self.data.datetime.array
        ])
        frame = pd.DataFrame({
            "datetime": predicted.index,
            "close": closes.reindex(predicted.index).to_numpy(),
            "predicted_close": predicted.to_numpy(),
        })
        frame["signal"] = np.sign(frame["predicted_close"] - frame["close"])
        return frame


def sma_frame(bars=1000, interval="1h", seed=3):
    """Synthetic klines priced near 100, so whole-unit orders fit a 10k account."""
    return random_walk(bars, interval=interval, seed=seed, price=100.0)


def run(frame, strategy=SmaCross, feed=HOURLY, analyzers=(), commission=0.001, **strategy_params):
    """Run `strategy` on `frame`; `analyzers` is a list of (name, class, params)."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame, **feed))
    cerebro.addstrategy(strategy, **strategy_params)
    cerebro.broker.setcommission(commission)
    for name, cls, params in analyzers:
        cerebro.addanalyzer(cls, _name=name, **params)
    return cerebro.run()[0]
