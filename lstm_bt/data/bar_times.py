"""A backtrader feed's bar times as naive UTC, whatever the feed's `tz`.

backtrader's `data.datetime.datetime()` gives them in the feed's `tz`; lstm-bt reads bar times
only through here, so a feed with `tz=` trades exactly as one without it.
"""

from backtrader import num2date

__all__ = ["bar_time", "utc_datetime"]


def utc_datetime(number):
    """A backtrader date number as a naive UTC `datetime`."""
    return num2date(number)


def bar_time(data):
    """The open time of `data`'s current bar, as a naive UTC `datetime`."""
    return num2date(data.datetime[0])
