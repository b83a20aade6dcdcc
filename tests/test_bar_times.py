"""A feed's backtrader `tz` changes what backtrader shows, never what lstm-bt computes.

backtrader stores bar times in UTC and converts them to the feed's `tz` when asked through
`data.datetime.datetime()`; lstm-bt reads them in UTC (`lstm_bt.data.bar_times`), so `start` (UTC)
picks the same bar, stored forecasts meet the same bars, and the times written are UTC: a run
with `tz=` is the run without it. Tiny LSTMs on a few hundred synthetic bars.
"""

import json

import backtrader as bt
import pandas as pd
import pytest

from lstm_bt import analyzers, run_backtest
from lstm_bt.feeds import BinanceKlines
from lstm_bt.run.forecast_cache import ForecastCache
from lstm_bt.models import ReplayedForecasts
from lstm_bt.strategies import LSTMStrategy
from lstm_bt.data.synthetic import random_walk

pytest.importorskip("pytz")  # backtrader reads a `tz` name through pytz

TINY = dict(seq_len=8, train_window=120, retrain_every=60, units=(4,), epochs=1,
            batch_size=32, learning_rate=0.01, threshold=0.0)
FRAME = random_walk(320, seed=11)
START = FRAME.index[200].to_pydatetime()
CASH, COMMISSION = 10_000.0, 0.001
# East of UTC (local times later than UTC) and west of it (earlier).
ZONES = ("Europe/Berlin", "America/New_York")


def pandas_feed(tz=None):
    return bt.feeds.PandasData(dataname=FRAME, timeframe=bt.TimeFrame.Minutes, compression=60,
                               tz=tz)


def binance_feed(tz=None):
    return BinanceKlines(dataname=FRAME, interval="1h", tz=tz)


FEEDS = {"PandasData": pandas_feed, "BinanceKlines": binance_feed}


def run(feed, **params):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(feed)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=COMMISSION)
    cerebro.addstrategy(LSTMStrategy, start=START, **{**TINY, **params})
    analyzers.add_all(cerebro)
    return cerebro.run()[0]


def outcome(strategy):
    """Everything a run decides or reports, times included, as comparable text and frames."""
    found = {name: getattr(strategy.analyzers, name).get_analysis()
             for name in analyzers.ANALYZERS}
    return {
        "measure_from": strategy.measure_from,
        "window_ends": [fit["window_end"] for fit in strategy.training_history],
        "analyzers": json.dumps(found, default=str, sort_keys=True),
    }


@pytest.fixture(scope="module")
def plain():
    """The run of each feed without `tz`, by feed name."""
    return {name: run(feed()) for name, feed in FEEDS.items()}


@pytest.mark.slow
@pytest.mark.parametrize("feed_name, tz", [("PandasData", ZONES[1]),
                                           ("BinanceKlines", ZONES[0])])
def test_a_feed_with_tz_gives_the_run_without_it(plain, feed_name, tz):
    without = plain[feed_name]
    with_tz = run(FEEDS[feed_name](tz))

    assert without.measure_from == START
    assert outcome(with_tz) == outcome(without)
    pd.testing.assert_frame_equal(with_tz.forecasts_frame(), without.forecasts_frame())
    assert with_tz.analyzers.trades.get_analysis()["open_datetime"]  # trades were compared
    # backtrader itself still shows the feed's local time.
    assert with_tz.data.datetime.datetime(0) != without.data.datetime.datetime(0)


@pytest.mark.slow
@pytest.mark.parametrize("tz", ZONES)
def test_forecasts_from_the_forecast_cache_replay_on_a_feed_with_tz(tmp_path, tz):
    made = run_backtest(FRAME, start=START, cash=CASH, commission=COMMISSION,
                        data_dir=tmp_path, **TINY)
    (entry,) = ForecastCache.in_data_dir(tmp_path).root.iterdir()
    cached = ForecastCache.in_data_dir(tmp_path).load(entry.name)

    replayed = run(binance_feed(tz),
                   forecasts=ReplayedForecasts(cached.forecasts, cached.training_history))

    assert replayed.timing["retrains"] == 0
    forecasts = replayed.forecasts_frame().set_index("datetime")
    pd.testing.assert_frame_equal(forecasts, made.forecasts, check_names=False)
    equity = pd.DataFrame(replayed.analyzers.equity.get_analysis()).set_index("datetime")
    pd.testing.assert_frame_equal(equity, made.equity)
    trades = pd.DataFrame(replayed.analyzers.trades.get_analysis()).drop(columns="data")
    pd.testing.assert_frame_equal(trades, made.trades.drop(columns="data"))
    assert len(trades)
    assert dict(replayed.analyzers.metrics.get_analysis()) == made.report["metrics"]
