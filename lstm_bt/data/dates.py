"""UTC dates as the command line and the data layer read them.

Everything in lstm-bt works in naive UTC `datetime`s (backtrader's convention) and, next to
Binance, in integer milliseconds since the epoch. This module converts between the two and
turns user text such as `2024-01-01` into a date, with an error that says how to write it.
"""

from datetime import date, datetime, timezone

from ..errors import InvalidParameter

__all__ = ["parse_date", "check_range", "to_ms", "from_ms", "utc_now"]

_EPOCH = datetime(1970, 1, 1)


def parse_date(text, name="date"):
    """Read a UTC date or date-time.

    Accepts ISO 8601 text (`2024-01-01`, `2024-01-01T12:00`, `2024-01-01 12:00:00`, with an
    optional `Z` or `+02:00` offset, converted to UTC), a `datetime` (aware ones converted to
    UTC) or a `date`.

    Args:
        text: the value to read.
        name: the argument's name (e.g. `"start"`), used in the error; the command line
            shows it as its flag.
            Defaults to `"date"`.

    Returns:
        A naive `datetime` in UTC.

    Raises:
        InvalidParameter: `text` is not a date; the message shows the expected form.

    Example:
        >>> parse_date("2024-03-01T12:30Z", "start")
        datetime.datetime(2024, 3, 1, 12, 30)
    """
    if isinstance(text, datetime):
        value = text
    elif isinstance(text, date):
        value = datetime(text.year, text.month, text.day)
    else:
        try:
            value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameter(
                f"Received an invalid value for `{name}`: {text!r}. "
                f"Write a UTC date like 2024-01-01 or 2024-01-01T12:00."
            ) from None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def check_range(start, end, start_name="start", end_name="end"):
    """Raise unless `start` is before `end` (the end is exclusive, so equal is empty).

    Args:
        start: first instant wanted (inclusive), a naive UTC `datetime`.
        end: instant after the last one wanted (exclusive), or None for "up to now".
        start_name: how the user spells the start argument. Defaults to `"start"`.
        end_name: how the user spells the end argument. Defaults to `"end"`.

    Raises:
        InvalidParameter: `start` is not before `end`.
    """
    if end is not None and start >= end:
        raise InvalidParameter(
            f"`{start_name}` {start:%Y-%m-%d %H:%M} is not before `{end_name}` "
            f"{end:%Y-%m-%d %H:%M}; the end is exclusive, so give an end after the start."
        )


def to_ms(moment):
    """Milliseconds since the epoch of a naive UTC `datetime`."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms):
    """The naive UTC `datetime` of `ms` milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).replace(tzinfo=None)


def utc_now():
    """The current time as a naive UTC `datetime`."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
