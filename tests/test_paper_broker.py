"""The paper broker: the backtest's fills, the exchange's lot and notional rules, orders
worked on new bars only, and its journal. No model is trained: LSTMStrategy trades replayed
forecasts."""

from decimal import Decimal

import backtrader as bt
import numpy as np
import pandas as pd

from helpers.listed_klines import ListedKlines, stream_bars
from lstm_bt import analyzers
from lstm_bt.binance.symbol_filters import SymbolFilters
from lstm_bt.data.dates import from_ms, to_ms, utc_now
from lstm_bt.data.synthetic import random_walk
from lstm_bt.feeds import BinanceKlines
from lstm_bt.live import BinanceStore, Journal, BinanceBroker
from lstm_bt.run.runner import broker_params, set_up_broker
from lstm_bt.strategies import LSTMStrategy

BROKER = broker_params(10_000.0, 0.001, 0.0005)


def replayed(frame, seed=5):
    """Strategy params that trade stored forecasts from the second bar on: the close plus
    noise of +-1 %, so the signal moves often."""
    noise = np.random.default_rng(seed).normal(0, 0.01, len(frame))
    return {"forecasts": pd.Series(frame["close"].to_numpy() * (1 + noise), index=frame.index),
            "start": frame.index[1]}


def run_cerebro(data, broker, strategy=LSTMStrategy, **params):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(data, name="TESTUSDT")
    cerebro.setbroker(set_up_broker(broker, BROKER))
    cerebro.addstrategy(strategy, **params)
    analyzers.add_all(cerebro)
    return cerebro.run()[0]


def test_without_exchange_rules_paper_trades_are_the_backtests():
    frame = random_walk(300, interval="1h", seed=2, price=100.0)
    params = replayed(frame)
    paper = run_cerebro(BinanceKlines(dataname=frame), BinanceBroker(), **params)
    backtest = run_cerebro(BinanceKlines(dataname=frame), bt.brokers.BackBroker(),
                           **params)
    paper_trades = pd.DataFrame(paper.analyzers.trades.get_analysis())
    assert len(paper_trades) > 20
    pd.testing.assert_frame_equal(paper_trades,
                                  pd.DataFrame(backtest.analyzers.trades.get_analysis()))


def test_sizes_are_rounded_down_to_the_lot_step_as_journaled(tmp_path):
    frame = random_walk(300, interval="1h", seed=2, price=100.0)
    step = SymbolFilters("TESTUSDT", step_size="0.01", min_qty="0.01", min_notional="5")
    with Journal.open(tmp_path, {"test": "rounding"}) as journal:
        strategy = run_cerebro(BinanceKlines(dataname=frame),
                               BinanceBroker(filters=lambda data: step, journal=journal),
                               sizing="all_in", **replayed(frame))
        intents = dict(journal.events("intent"))
        orders = dict(journal.events("order"))
        fills = [payload for _, payload in journal.events("fill")]
    trades = pd.DataFrame(strategy.analyzers.trades.get_analysis())
    assert len(trades) > 20 and len(intents) == len(orders) > 40
    for key, intent in intents.items():
        asked = Decimal(repr(intent["size"]))
        sent = Decimal(repr(abs(orders[key]["size"])))
        assert sent == asked - asked % Decimal("0.01")  # rounded down, never up
    assert all(Decimal(repr(abs(fill["size"]))) % Decimal("0.01") == 0 for fill in fills)
    assert all(Decimal(repr(size)) % Decimal("0.01") == 0 for size in trades["size"])


class _Refusals(bt.Analyzer):
    def start(self):
        self.rets = []

    def notify_order(self, order):
        if order.status == order.Rejected:
            self.rets.append(order.info.get("refused"))


def test_an_order_below_the_minimum_notional_is_refused_with_binances_reason(tmp_path):
    frame = random_walk(200, interval="1h", seed=2, price=100.0)
    rules = SymbolFilters("TESTUSDT", step_size="0.001", min_notional="5")
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(BinanceKlines(dataname=frame), name="TESTUSDT")
    cerebro.setbroker(set_up_broker(BinanceBroker(filters=lambda data: rules), BROKER))
    # 0.04 units near 100 USDT: a 4 USDT order, below the 5 USDT minimum.
    cerebro.addstrategy(LSTMStrategy, sizing="fixed", stake=0.04, **replayed(frame))
    cerebro.addanalyzer(_Refusals, _name="refusals")
    analyzers.add_all(cerebro)
    strategy = cerebro.run()[0]
    refused = strategy.analyzers.refusals.get_analysis()
    assert refused and set(refused) == {"Filter failure: NOTIONAL"}
    assert strategy.analyzers.trades.get_analysis()["size"] == []
    assert strategy.broker.getvalue() == 10_000.0


class _LimitAtTheLow(bt.Strategy):
    """Each bar without a position or an order: buy 1 at this bar's low, limit; sell after a
    bar in the market. A limit tried against the bar it was made on always fills."""

    def start(self):
        self.pending = None
        self.fills = []

    def notify_order(self, order):
        if order.status == order.Completed:
            self.fills.append((bt.num2date(order.executed.dt), order.executed.size,
                               order.executed.price))
        if not order.alive():
            self.pending = None

    def next(self):
        if self.pending is not None:
            return
        if self.position:
            self.pending = self.close()
        else:
            self.pending = self.buy(size=1, exectype=bt.Order.Limit, price=self.data.low[0],
                                    valid=bt.Order.DAY)


def test_orders_are_worked_on_new_bars_only_while_the_live_feed_waits():
    now = to_ms(utc_now())
    frame = random_walk(120, interval="1m", seed=4, price=100.0,
                        start=from_ms(now - now % 60_000))
    store = BinanceStore(stream_factory=ListedKlines.factory(stream_bars(frame), pauses=3))
    live = run_cerebro(store.getdata("TESTUSDT", "1m", live_bars=len(frame), qcheck=0.0),
                       BinanceBroker(), strategy=_LimitAtTheLow)
    backtest = run_cerebro(BinanceKlines(dataname=frame), bt.brokers.BackBroker(),
                           strategy=_LimitAtTheLow)
    assert len(backtest.fills) > 10
    assert live.fills == backtest.fills


def test_the_forecast_behind_an_order_is_journaled_before_the_order(tmp_path):
    import sqlite3

    frame = random_walk(120, interval="1h", seed=2, price=100.0)
    with Journal.open(tmp_path, {"test": "order of records"}) as journal:
        run_cerebro(BinanceKlines(dataname=frame), BinanceBroker(journal=journal),
                    **replayed(frame))
    with sqlite3.connect(tmp_path / "journal.sqlite") as connection:
        records = connection.execute("SELECT kind, key FROM events ORDER BY seq").fetchall()
    seen, intents = set(), 0
    for kind, key in records:
        if kind == "intent":
            intents += 1
            assert ("forecast", key.split(".")[0]) in seen, key
            assert ("order", key) not in seen and ("fill", f"{key}/completed") not in seen
        seen.add((kind, key))
    assert intents > 20
