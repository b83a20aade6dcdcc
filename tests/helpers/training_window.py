"""For the "scaled and trained on the training window only" tests: one walk-forward model fit
by `LSTMStrategy` in a real cerebro, and the same frame with every bar outside that model's
training window changed.

The model is fit at the close of bar `FIT_AT` (the first tradable bar, one fit in all) and
reads bars `WINDOW.train_start .. FIT_AT`; bars before and after exist and are changed.
"""

import backtrader as bt
import numpy as np

from lstm_bt.models.schedule import window_at
from lstm_bt.strategies import LSTMStrategy

SCHEDULE = dict(seq_len=4, train_window=40, retrain_every=1000)
MODEL = dict(units=(2,), epochs=1, batch_size=32, seed=0)
FIT_AT = 60
WINDOW = window_at(FIT_AT, FIT_AT, SCHEDULE["train_window"], SCHEDULE["seq_len"],
                   SCHEDULE["retrain_every"])
PRICES = ["open", "high", "low", "close"]
OHLCV_COLUMNS = [*PRICES, "volume"]


def fit_once(frame, strategy=LSTMStrategy, **params):
    """Run `strategy` over `frame` (at least `FIT_AT + 2` bars), fitting one model at
    `FIT_AT`; returns the strategy after the run (its `model_` is that model)."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(strategy, start=frame.index[FIT_AT], **SCHEDULE, **MODEL, **params)
    strategy = cerebro.run()[0]
    assert strategy.timing["retrains"] == 1
    return strategy


def window_bars(frame, columns):
    """The bars the model fit at `FIT_AT` may read, as an array of `columns`."""
    return frame[columns].iloc[WINDOW.train_start:WINDOW.train_stop].to_numpy(dtype=np.float64)


def outside_window_changed(frame):
    """`frame` with every bar before and after the training window changed: prices 50 %
    higher, volume tripled, any other column shifted by 5."""
    changed = frame.copy()
    outside = np.r_[0:WINDOW.train_start, WINDOW.train_stop:len(frame)]
    for column in changed.columns:
        values = changed[column].to_numpy(dtype=np.float64, copy=True)
        if column in PRICES:
            values[outside] *= 1.5
        elif column == "volume":
            values[outside] *= 3.0
        else:
            values[outside] += 5.0
        changed[column] = values
    return changed


def weights(strategy):
    """The trained weights of the strategy's model."""
    return strategy.model_.model_.get_weights()
