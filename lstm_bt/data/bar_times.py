"""A backtrader feed's bar times as lstm-bt reads them: naive UTC, whatever the feed's `tz`.

backtrader stores every time as a UTC date number, but `data.datetime.datetime()`,
`data.num2date()` and `trade.close_datetime()` convert it to the feed's `tz` param (naive local
time). lstm-bt compares bar times with `start` and with stored forecasts, and records them in
frames and files, all documented as UTC, so it reads them only through this module: a feed
with `tz=` then gives the same forecasts, trades and figures as the same feed without it.
The feed's `tz` stays backtrader's, for what backtrader itself shows (its plots).
"""

from backtrader import num2date

__all__ = ["bar_time", "utc_datetime"]


def utc_datetime(number):
    """A backtrader date number (`data.datetime[0]`, `order.executed.dt`, `trade.dtclose`)
    as a naive UTC `datetime`."""
    return num2date(number)


def bar_time(data):
    """The open time of `data`'s current bar, as a naive UTC `datetime`."""
    return num2date(data.datetime[0])
