"""Binance kline intervals: length, backtrader timeframe and bars per 365-day year."""

from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import InvalidParameter

__all__ = ["Interval", "INTERVALS", "get_interval", "bars_per_year"]

_SECOND_MS = 1_000
_MINUTE_MS = 60 * _SECOND_MS
_HOUR_MS = 60 * _MINUTE_MS
_DAY_MS = 24 * _HOUR_MS
_YEAR_MS = 365 * _DAY_MS
# "1M" bars follow the calendar: from 28 to 31 days.
_SHORTEST_MONTH_MS = 28 * _DAY_MS
_LONGEST_MONTH_MS = 31 * _DAY_MS


@dataclass(frozen=True)
class Interval:
    """One Binance kline interval.

    Attributes:
        name: Binance's spelling, e.g. `"1h"`.
        ms: bar length in milliseconds; `None` for `"1M"` (calendar months).
        timeframe: backtrader `TimeFrame` constant.
        compression: backtrader compression within `timeframe`.
        bars_per_year: bars in a 365-day year (crypto trades 24/7: 1h gives 8760).
    """

    name: str
    ms: int | None
    timeframe: int
    compression: int
    bars_per_year: float

    @property
    def shortest_ms(self):
        return self.ms or _SHORTEST_MONTH_MS

    @property
    def longest_ms(self):
        return self.ms or _LONGEST_MONTH_MS

    def next_open(self, open_ms):
        """The open time (ms) of the bar after the one opening at `open_ms`."""
        if self.ms is not None:
            return open_ms + self.ms
        opened = datetime.fromtimestamp(open_ms / 1000, tz=timezone.utc)
        year, month = divmod(opened.month, 12)
        following = opened.replace(year=opened.year + year, month=month + 1)
        return int(following.timestamp() * 1000)

    def close_ms(self, open_ms):
        """Binance's `close_time` (ms) of the bar opening at `open_ms`."""
        return self.next_open(open_ms) - 1

    def __str__(self):
        return self.name


def _fixed(name, ms, timeframe, compression):
    return Interval(name, ms, timeframe, compression, _YEAR_MS / ms)


class _TF:
    """backtrader's `TimeFrame` values, copied so that importing lstm_bt skips backtrader."""

    Seconds, Minutes, Days, Weeks, Months, Years = 3, 4, 5, 6, 7, 8


INTERVALS = {
    interval.name: interval
    for interval in (
        _fixed("1s", _SECOND_MS, _TF.Seconds, 1),
        _fixed("1m", _MINUTE_MS, _TF.Minutes, 1),
        _fixed("3m", 3 * _MINUTE_MS, _TF.Minutes, 3),
        _fixed("5m", 5 * _MINUTE_MS, _TF.Minutes, 5),
        _fixed("15m", 15 * _MINUTE_MS, _TF.Minutes, 15),
        _fixed("30m", 30 * _MINUTE_MS, _TF.Minutes, 30),
        _fixed("1h", _HOUR_MS, _TF.Minutes, 60),
        _fixed("2h", 2 * _HOUR_MS, _TF.Minutes, 120),
        _fixed("4h", 4 * _HOUR_MS, _TF.Minutes, 240),
        _fixed("6h", 6 * _HOUR_MS, _TF.Minutes, 360),
        _fixed("8h", 8 * _HOUR_MS, _TF.Minutes, 480),
        _fixed("12h", 12 * _HOUR_MS, _TF.Minutes, 720),
        _fixed("1d", _DAY_MS, _TF.Days, 1),
        _fixed("3d", 3 * _DAY_MS, _TF.Days, 3),
        _fixed("1w", 7 * _DAY_MS, _TF.Weeks, 1),
        Interval("1M", None, _TF.Months, 1, 12.0),
    )
}


def get_interval(name):
    """The `Interval` named `name` (e.g. `"1h"`); an `Interval` is returned as is."""
    if isinstance(name, Interval):
        return name
    try:
        return INTERVALS[name]
    except (KeyError, TypeError):
        raise InvalidParameter(
            f"Received an invalid value for `interval`: {name!r}. "
            f"Use one of Binance's intervals: {' '.join(INTERVALS)}."
        ) from None


def bars_per_year(timeframe, compression):
    """Bars in a 365-day year for a backtrader `(timeframe, compression)`; None for ticks."""
    seconds = {
        _TF.Seconds: 1,
        _TF.Minutes: 60,
        _TF.Days: 86_400,
        _TF.Weeks: 7 * 86_400,
    }.get(timeframe)
    if seconds is not None:
        return 365 * 86_400 / (seconds * compression)
    if timeframe == _TF.Months:
        return 12.0 / compression
    if timeframe == _TF.Years:
        return 1.0 / compression
    return None
