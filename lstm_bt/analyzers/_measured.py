"""The base of lstm-bt's analyzers: the portfolio from `start` on, warm-up bars left out.

The value before the first measured bar is W_0, and the first return is measured against it.
"""

import backtrader as bt

from ..data.bar_times import bar_time, utc_datetime
from ..data.dates import parse_date
from ..errors import InvalidParameter
from ..data.intervals import bars_per_year as interval_bars_per_year

__all__ = ["MeasuredAnalyzer"]


class MeasuredAnalyzer(bt.Analyzer):
    """Base class: records the portfolio value and the first data's close of every measured bar.

    The value comes from `notify_fund`. Subclasses record more in `measured_bar`, do their
    maths in `stop` from `values`, `closes`, `start_value`, `trade_pnls` and `bars_per_year`,
    and put a plain dict in `self.rets`.

    Params:

      - ``start`` (default: ``None``): first bar measured, naive UTC; ``None`` takes the
        strategy's `measure_from` when it has one, else the first bar.
      - ``bars_per_year`` (default: ``None``): for annualizing; ``None`` reads it from the
        first data's timeframe (1h: 8760).
    """

    params = (
        ("start", None),
        ("bars_per_year", None),
    )

    def start(self):
        # Reset here, not in __init__, so a re-run cerebro starts from a clean slate.
        self.rets = {}
        self.values, self.closes = [], []
        self.trade_pnls = []
        self.bars_per_year = self._resolve_bars_per_year()
        self._first_bar = None if self.p.start is None else parse_date(self.p.start, "start")
        self._value = self._value_before = self.strategy.broker.getvalue()
        self._start_value = None

    @property
    def start_value(self):
        """W_0: the portfolio value just before the first measured bar."""
        return self._value_before if self._start_value is None else self._start_value

    def measuring(self, when):
        """Whether a bar (or trade close) at datetime `when` falls in the measured period."""
        first = self._first_bar
        if first is None and hasattr(self.strategy, "measure_from"):
            first = self.strategy.measure_from
            if first is None:
                return False  # the strategy's warm-up: its first tradable bar is still ahead
        return first is None or when >= first

    def notify_fund(self, cash, value, fundvalue, shares):
        self._value = value

    def next(self):
        if self._start_value is None:
            # Until the first measured bar; every later bar is measured too.
            if not self.measuring(bar_time(self.data)):
                self._value_before = self._value
                return
            self._start_value = self._value_before
        self.values.append(self._value)
        self.closes.append(self.data.close[0])
        self.measured_bar()

    def measured_bar(self):
        """Called on each measured bar once its value and close are recorded: what a subclass
        records besides them."""

    def notify_trade(self, trade):
        if trade.isclosed and self.measuring(utc_datetime(trade.dtclose)):
            self.trade_pnls.append(trade.pnlcomm)

    def get_analysis(self):
        """The results as a plain dict (filled in `stop`)."""
        return self.rets

    def _resolve_bars_per_year(self):
        if self.p.bars_per_year is not None:
            if not self.p.bars_per_year > 0:
                raise InvalidParameter(
                    f"Received an invalid value for `bars_per_year`, expected a positive "
                    f"number (1h: 8760, 1d: 365), got {self.p.bars_per_year!r}."
                )
            return float(self.p.bars_per_year)
        timeframe, compression = self.data._timeframe, self.data._compression
        found = interval_bars_per_year(timeframe, compression)
        if found is None:
            raise InvalidParameter(
                f"{type(self).__name__} cannot annualize a feed with timeframe "
                f"{bt.TimeFrame.getname(timeframe, compression)}; pass `bars_per_year=` "
                "(bars in a 365-day year, e.g. 8760 for hourly bars)."
            )
        return found
