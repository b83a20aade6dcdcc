"""Naive UTC `datetime`s, epoch milliseconds, and user text such as `2024-01-01`."""

from datetime import date, datetime, timezone

from ..errors import InvalidParameter

__all__ = ["parse_date", "check_range", "to_ms", "from_ms", "utc_now"]

_EPOCH = datetime(1970, 1, 1)


def parse_date(text, name="date"):
    """A naive UTC `datetime` from ISO text, a `datetime` or a `date`.

    An offset (`Z`, `+02:00`) or an aware `datetime` is converted to UTC.

    Args:
        text: the value, e.g. `"2024-01-01"` or `"2024-01-01T12:00Z"`.
        name: the argument's name for the error message. Defaults to `"date"`.
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
    """Raise `InvalidParameter` unless `start` is before `end` (exclusive; None: now)."""
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
