"""The one piece every lstm-bt analyzer shares: the portfolio, bar by bar, from `start` on.

Warm-up bars (the history the first model needs) come before `start` and must not dilute the
figures, so nothing before `start` is measured. The value before the first measured bar is W_0
(starting cash, or whatever the strategy held then), and the first return is measured against
it, as DESIGN defines r.
"""

import backtrader as bt

from ..data.bar_times import bar_time, utc_datetime
from ..data.dates import parse_date
from ..errors import InvalidParameter
from ..data.intervals import bars_per_year as interval_bars_per_year

__all__ = ["MeasuredAnalyzer"]


class MeasuredAnalyzer(bt.Analyzer):
    """Base class: records value, exposure and the first data's close of every measured bar.

    Subclasses do their maths in `stop` from `datetimes`, `values`, `exposed`, `closes`,
    `start_value`, `trade_pnls` and `bars_per_year`, and put a plain dict in `self.rets`.

    Params:

      - ``start`` (default: ``None``): first bar measured (a datetime, date or ISO string,
        naive UTC); ``None`` takes it from the strategy when it publishes one
        (`LSTMStrategy.measure_from`, its first tradable bar, so a cerebro script passes
        `start` to the strategy only), else measures from the first bar.
      - ``bars_per_year`` (default: ``None``): bars in a year for annualizing; ``None`` reads
        it from the first data's timeframe/compression (1h: 8760, 1d: 365).
    """

    params = (
        ("start", None),
        ("bars_per_year", None),
    )

    def start(self):
        # Reset here, not in __init__, so a re-run cerebro starts from a clean slate.
        self.rets = {}
        self.datetimes, self.values, self.exposed, self.closes = [], [], [], []
        self.trade_pnls = []
        self.bars_per_year = self._resolve_bars_per_year()
        self._first_bar = None if self.p.start is None else parse_date(self.p.start, "start")
        self._value_before = self.strategy.broker.getvalue()
        self._start_value = None
        # Every analyzer of a strategy reads the same bar from the same broker, in the order of
        # `strategy.analyzers`, every pass: the first measured one reads it for the others.
        self._reader = next(a for a in self.strategy.analyzers if isinstance(a, MeasuredAnalyzer))
        self._bar, self._reads = None, 0
        self._now = None

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

    def next(self):
        # Kept for subclasses that record every bar (`ForecastSkill`), so they read it once.
        self._now = when, value, exposed, close = self._read_bar()
        if not self.measuring(when):
            self._value_before = value
            return
        if self._start_value is None:
            self._start_value = self._value_before
        self.datetimes.append(when)
        self.values.append(value)
        self.exposed.append(exposed)
        self.closes.append(close)

    def _read_bar(self):
        """This bar's datetime, portfolio value, exposure and close: read by the strategy's
        first measured analyzer, taken from it by the others (8 analyzers reading the same
        broker cost ~0.2 s over a year of hourly bars). One that finds the reader has not read
        since it last took a bar (a subclass whose `next` skips this one's) reads for itself."""
        reader = self._reader
        if reader is not self and reader._reads != self._reads:
            self._reads = reader._reads
            return reader._bar
        broker = self.strategy.broker
        bar = (bar_time(self.data), broker.getvalue(),
               any(broker.getposition(d).size for d in self.strategy.datas), self.data.close[0])
        if reader is self:
            self._bar, self._reads = bar, self._reads + 1
        return bar

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
