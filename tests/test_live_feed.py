"""The live feed and the store from a cerebro script: journaled bars first, then the stream,
each bar once, backtrader's data notifications, and the store pattern end to end. No model is
trained: LSTMStrategy trades stored forecasts."""

import threading

import backtrader as bt
import pandas as pd
import pytest

from helpers.fake_binance import FakeBinance
from helpers.listed_klines import ListedKlines, stream_bars
from lstm_bt import analyzers
from lstm_bt.data.dates import from_ms, to_ms, utc_now
from lstm_bt.data.synthetic import random_walk
from lstm_bt.live import BinanceStore, Journal
from lstm_bt.live.live_klines import kline_row
from lstm_bt.data.intervals import get_interval
from lstm_bt.strategies import LSTMStrategy


class Watcher(bt.Strategy):
    """Records every bar's open time and status, and every data notification."""

    def start(self):
        self.bars, self.notes = [], []

    def notify_data(self, data, status, *args, **kwargs):
        self.notes.append(data._getstatusname(status))

    def next(self):
        self.bars.append((bt.num2date(self.data.datetime[0]), self.data.replaying))


def journaled_store(tmp_path, frame, history, **stream_options):
    """A store whose journal holds the first `history` bars of `frame` (warm-up) and whose
    stream lists the rest."""
    step = get_interval("1m")
    bars = stream_bars(frame)
    journal = Journal.open(tmp_path, {"test": "feed"})
    journal.add_bars([kline_row(open_ms, bar, step) for open_ms, bar in bars[:history]],
                     live=False)
    store = BinanceStore(journal=journal,
                         stream_factory=ListedKlines.factory(bars, **stream_options))
    return store, journal


def minute_bars(count):
    now = to_ms(utc_now())
    return random_walk(count, interval="1m", start=from_ms(now - now % 60_000 - 600_000),
                       seed=1, price=100.0)


def run(store, strategy=Watcher, live_bars=None, **params):
    cerebro = bt.Cerebro(stdstats=False)
    data = store.getdata("TESTUSDT", "1m", history=10, live_bars=live_bars, qcheck=0.0)
    cerebro.adddata(data)
    cerebro.addstrategy(strategy, **params)
    return data, cerebro.run()[0]


def test_journaled_bars_come_first_then_the_stream_each_bar_once_in_order(tmp_path):
    frame = minute_bars(30)
    store, journal = journaled_store(tmp_path, frame, history=10, repeat=True)
    with journal:
        data, strategy = run(store, live_bars=20)
        assert journal.live_bars() == 20
    assert [when for when, _ in strategy.bars] == list(frame.index.to_pydatetime())
    assert [replaying for _, replaying in strategy.bars] == [True] * 10 + [False] * 20
    assert data.first_live == frame.index[10]


def test_data_notifications_say_delayed_live_and_connbroken(tmp_path):
    frame = minute_bars(30)
    opens = [open_ms for open_ms, _ in stream_bars(frame)]
    store, journal = journaled_store(tmp_path, frame, history=10, statuses={
        opens[15]: "reconnecting", opens[18]: "backfilling", opens[20]: "live"})
    with journal:
        _, strategy = run(store, live_bars=20)
    assert strategy.notes == ["DELAYED", "LIVE", "CONNBROKEN", "DELAYED", "LIVE"]


def test_request_stop_ends_the_run_at_a_bar_boundary(tmp_path):
    frame = minute_bars(30)
    store, journal = journaled_store(tmp_path, frame, history=10, pauses=1)

    class StopAfterFive(Watcher):
        def next(self):
            super().next()
            if len(self.bars) == 15:
                threading.Thread(target=store.request_stop).start()

    with journal:
        _, strategy = run(store, strategy=StopAfterFive)
        assert journal.live_bars() in (5, 6)  # the bar in hand when the stop came
    assert len(strategy.bars) in (15, 16)


class NotedLSTM(LSTMStrategy):
    """LSTMStrategy, recording its data notifications."""

    def start(self):
        super().start()
        self.notes = []

    def notify_data(self, data, status, *args, **kwargs):
        self.notes.append(data._getstatusname(status))


def test_a_cerebro_script_trades_live_through_the_store(tmp_path):
    with FakeBinance("TESTUSDT", "1s", history=40, bars=200,
                     filters={"step_size": "0.01000000", "min_qty": "0.01000000"}) as fake:
        store = BinanceStore(base_url=fake.rest_url, stream_url=fake.stream_url,
                             data_dir=tmp_path)
        data = store.getdata(symbol="TESTUSDT", interval="1s", history=20, live_bars=6)
        # Stored forecasts stand for the model: each bar's close, 1 % up or down in turn.
        close = fake.frame["close"]
        turns = pd.Series([1.01, 0.99] * (len(close) // 2 + 1))[:len(close)].to_numpy()
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(data, name="TESTUSDT")
        cerebro.setbroker(store.getbroker(paper=True, cash=10_000, commission=0.001))
        cerebro.addstrategy(NotedLSTM, start=data.first_live, forecasts=close * turns,
                            threshold=0.0, fraction=0.5)
        analyzers.add_all(cerebro, start=data.first_live)
        strategy = cerebro.run()[0]
    trades = pd.DataFrame(strategy.analyzers.trades.get_analysis())
    assert data.live_bars == 6 and len(strategy.forecasts_frame()) == 6
    assert strategy.forecasts_frame()["datetime"].iloc[0] == data.first_live
    assert len(trades) >= 2
    # all_in at ~half the equity, rounded down to the fake's lot step of 0.01.
    assert all(round(size, 2) == size for size in trades["size"])
    assert strategy.notes[0] == "DELAYED" and "LIVE" in strategy.notes
    with pytest.raises(Exception):
        store.getbroker(paper=False)
