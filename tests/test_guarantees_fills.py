"""Orders fill at the next bar's open (plus slippage), never at the signal bar's close."""

import numpy as np
import pandas as pd
import pytest

from lstm_bt import run_backtest
from lstm_bt.data.synthetic import random_walk

SLIPPAGE = 0.0005


@pytest.fixture(scope="module")
def walk():
    """A random walk whose bars open away from the previous close (a gap of about 0.3 %), so
    the next bar's open and the signal bar's close are different prices."""
    frame = random_walk(200, seed=5)
    gaps = np.random.default_rng(5).normal(0.0, 0.003, len(frame))
    frame["open"] = frame["close"].shift(1, fill_value=frame["open"].iloc[0]) * np.exp(gaps)
    frame["high"] = frame[["open", "high"]].max(axis=1)
    frame["low"] = frame[["open", "low"]].min(axis=1)
    return frame


@pytest.fixture(scope="module")
def result(walk):
    return run_backtest(walk, symbol="WALK", cache=False, slippage=SLIPPAGE, allow_short=True,
                        threshold=0.0, seq_len=4, train_window=40, retrain_every=40, units=(2,), epochs=1)


def _filled(walk, when, buying):
    """The price a market order placed the bar before `when` fills at: `when`'s open,
    worse by the slippage, within the bar's range (backtrader's default slippage rules)."""
    bar = walk.loc[when]
    if buying:
        return min(bar["open"] * (1 + SLIPPAGE), bar["high"])
    return max(bar["open"] * (1 - SLIPPAGE), bar["low"])


@pytest.mark.slow
def test_each_trade_enters_and_exits_at_the_next_bars_open_plus_slippage(walk, result):
    trades = result.trades
    assert len(trades) >= 5 and set(trades["side"]) == {"long", "short"}
    assert (walk["open"] != walk["close"].shift(1)).iloc[1:].all()
    signals = result.forecasts["signal"]
    hour = pd.Timedelta(hours=1)
    for trade in trades.itertuples():
        long = trade.side == "long"
        # The order was placed at the close of the bar before the fill, by a signal for it.
        assert signals[trade.open_datetime - hour] == (1 if long else -1), trade
        assert trade.entry_price == pytest.approx(
            _filled(walk, trade.open_datetime, buying=long), rel=1e-12), trade
        assert trade.exit_price == pytest.approx(
            _filled(walk, trade.close_datetime, buying=not long), rel=1e-9), trade
