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
    """Binance answered with an error (bad symbol, bad interval, restricted location, ...).

    Args:
        message: what went wrong and what to do about it.
        code: Binance's numeric error code, when the answer carried one.
        status: the HTTP status of the answer, when there was one.
        reason: Binance's own message (`msg`), when the answer carried one.
    """

    def __init__(self, message, code=None, status=None, reason=None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.reason = reason


class NetworkError(LstmBtError):
    """The Binance host could not be reached, or kept failing after every retry."""


class SendStatusUnknown(BinanceError):
    """A request that may have acted (a new order) lost its answer: a timeout, a 5xx, -1007.

    Binance's word for it: "send status unknown; execution status unknown". The request is not
    sent again; what happened is asked for instead.
    """


class ReconcileError(LstmBtError):
    """Binance holds an order, an execution or a balance the session's journal cannot explain;
    the session stops instead of trading on."""


def did_you_mean(name, choices, cutoff=0.6):
    """The " Did you mean 'x'?" hint for a misspelt `name`, or "" when nothing is close.

    Args:
        name: what the user wrote.
        choices: the valid names.
        cutoff: how close a choice must be (`difflib` ratio, 0..1). Defaults to `0.6`.
    """
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return f" Did you mean {close[0]!r}?" if close else ""


def fill_params(owner, params, defaults, refused=()):
    """`defaults` overridden by `params`; `InvalidParameter` for the first name in `params`
    that is no key of `defaults`, or is one of `refused` (e.g. a param a runner sets itself).

    Args:
        owner: what takes the params, for the message (e.g. `"LSTMStrategy"`).
        params: the params given.
        defaults: every param name and its default.
        refused: names that exist but may not be given here. Defaults to none.
    """
    for name in params:
        if name not in defaults or name in refused:
            raise InvalidParameter(
                f"{owner} has no param {name!r}.{did_you_mean(name, defaults)}")
    return {**defaults, **params}


def check_int(name, value, low=0, high=None, meaning="", none_ok=False):
    """`value` as an `int`; `InvalidParameter` naming the argument unless it is an integer
    from `low` to `high` (a bool is refused; NumPy integers are integers). The one check of
    integer arguments: every message reads the same, and the command line shows `name` as its
    flag.

    Args:
        name: the Python argument, as the message names it (e.g. `"train_window"`).
        value: what was received.
        low: the smallest value allowed. Defaults to `0`.
        high: the largest value allowed, None for no bound. Defaults to `None`.
        meaning: what the number counts, said after what is expected (e.g. `"worker
            processes"`). Defaults to none.
        none_ok: None is allowed too (and returned as is). Defaults to `False`.

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
