"""Every report metric of the strategy, and the same for buy and hold on the same bars."""

import numpy as np

from .. import stats
from ..data.bar_times import utc_datetime
from ._measured import MeasuredAnalyzer
from .trade_log import TradeFills

__all__ = ["Metrics", "Benchmark", "buy_and_hold_values"]


class Metrics(MeasuredAnalyzer):
    """Every `report.json` metric of the strategy's portfolio from `start`.

    Trades are those closed at or after `start`; exposure is the share of measured bars ending
    with a position open; fees are the commission of every order filled from `start`.

    Params: ``risk_free`` (default ``0.0``), a yearly rate for Sharpe and Sortino.
    `get_analysis()`: exactly `lstm_bt.stats.METRIC_KEYS`.
    """

    params = (("risk_free", 0.0),)

    def start(self):
        super().start()
        self.fees = 0.0
        self.exposed = []
        self.trade_entry_values, self.trade_bars_held = [], []
        self._fills = TradeFills()

    def measured_bar(self):
        broker = self.strategy.broker
        self.exposed.append(any(broker.getposition(data).size for data in self.strategy.datas))

    def notify_order(self, order):
        self._fills.add_order(order)
        if order.status == order.Completed and self.measuring(utc_datetime(order.executed.dt)):
            self.fees += order.executed.comm

    def notify_trade(self, trade):
        super().notify_trade(trade)
        if not trade.isclosed:
            return
        accounted = self._fills.closed(trade)
        if self.measuring(utc_datetime(trade.dtclose)):
            self.trade_entry_values.append(float("nan") if accounted is None else accounted[3])
            self.trade_bars_held.append(trade.barlen)

    def stop(self):
        self.rets = stats.compute_metrics(
            self.values,
            self.start_value,
            self.bars_per_year,
            trades=self.trade_pnls,
            exposure=self.exposed,
            risk_free=self.p.risk_free,
            fees=self.fees,
            trade_entry_values=self.trade_entry_values,
            trade_bars_held=self.trade_bars_held,
        )


class Benchmark(MeasuredAnalyzer):
    """The same metrics for buy and hold of the first data over the measured bars.

    B_t = W_0 * close_t / close_start: all of W_0 in at the first measured close, fractional,
    no fees, held to the end; one trade of entry value W_0, exposed on every bar.

    Params: ``risk_free`` (default ``0.0``). `get_analysis()`: exactly `METRIC_KEYS`.
    """

    params = (("risk_free", 0.0),)

    def stop(self):
        values = buy_and_hold_values(self.closes, self.start_value)
        self.rets = stats.compute_metrics(
            values,
            self.start_value,
            self.bars_per_year,
            trades=[values[-1] - self.start_value] if len(values) else [],
            exposure=np.ones(len(values), dtype=bool),
            risk_free=self.p.risk_free,
            fees=0.0,
            trade_entry_values=[self.start_value] if len(values) else [],
            trade_bars_held=[len(values) - 1] if len(values) else [],
        )


def buy_and_hold_values(closes, start_value):
    """Value of `start_value` put into the asset at the first close: W_0 * close_t / close_0.

    Args:
        closes: closes of the measured bars.
        start_value: the cash invested (W_0).

    Returns:
        A float array as long as `closes`.
    """
    closes = np.asarray(closes, dtype=float)
    if len(closes) == 0:
        return closes
    return start_value * closes / closes[0]
