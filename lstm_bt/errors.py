"""The one exception hierarchy of lstm-bt.

Every error a user can cause derives from `LstmBtError`. The command line turns these into a
one-line message and exit status 2; anything else is a bug and exits 1 with a traceback.
"""

__all__ = [
    "LstmBtError",
    "InvalidParameter",
    "DataError",
    "BinanceError",
    "NetworkError",
    "SendStatusUnknown",
    "ReconcileError",
    "did_you_mean",
    "fill_params",
    "check_int",
]

import difflib
import numbers


class LstmBtError(Exception):
    """Base class: bad input or a refused request, explained in the message."""


class InvalidParameter(LstmBtError, ValueError):
    """A parameter has a value that cannot work; the message names it and the fix."""


class DataError(LstmBtError):
    """Market data is missing, malformed or too short for what was asked."""


class BinanceError(LstmBtError):
    """Binance answered with an error; `code`, `status` and `reason` (its `msg`) are kept
    when the answer carried them."""

    def __init__(self, message, code=None, status=None, reason=None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.reason = reason


class NetworkError(LstmBtError):
    """The Binance host could not be reached, or kept failing after every retry."""


class SendStatusUnknown(BinanceError):
    """A request that may have acted (a new order) lost its answer (a timeout, a 5xx, -1007):
    it is not sent again, what happened is asked for instead."""


class ReconcileError(LstmBtError):
    """Binance holds an order, an execution or a balance the session's journal cannot explain;
    the session stops instead of trading on."""


def did_you_mean(name, choices, cutoff=0.6):
    """The " Did you mean 'x'?" hint for a misspelt `name` among `choices`, or "" when none
    is within `cutoff` (a `difflib` ratio)."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return f" Did you mean {close[0]!r}?" if close else ""


def fill_params(owner, params, defaults, refused=()):
    """`defaults` overridden by `params`; `InvalidParameter` naming `owner` for the first
    name in `params` that is no key of `defaults` or is one of `refused`."""
    for name in params:
        if name not in defaults or name in refused:
            raise InvalidParameter(
                f"{owner} has no param {name!r}.{did_you_mean(name, defaults)}")
    return {**defaults, **params}


def check_int(name, value, low=0, high=None, meaning="", none_ok=False):
    """`value` as an `int`; `InvalidParameter` naming `name` unless it is an integer from `low`
    to `high` (None: no bound), or None when `none_ok`. A bool is refused.

    Args:
        name: the Python argument, as the message names it.
        value: what was received.
        low, high: the bounds, inclusive. Default to `0` and `None`.
        meaning: what the number counts, said after what is expected. Defaults to none.
        none_ok: None is allowed and returned. Defaults to `False`.

    Example:
        >>> check_int("epochs", 20, low=1)
        20
        >>> check_int("epochs", 0, low=1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        lstm_bt.errors.InvalidParameter: ... `epochs`, expected a positive integer, got 0.
    """
    if value is None and none_ok:
        return None
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low
            or (high is not None and value > high)):
        if high is not None:
            expected = f"an integer in [{low}, {high}]"
        else:
            expected = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise InvalidParameter(
            f"Received an invalid value for `{name}`, expected {'None or ' if none_ok else ''}"
            f"{expected}{f' ({meaning})' if meaning else ''}, got {value!r}."
        )
    return int(value)
