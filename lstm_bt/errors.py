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
    "did_you_mean",
    "fill_params",
]

import difflib


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
    """

    def __init__(self, message, code=None, status=None):
        super().__init__(message)
        self.code = code
        self.status = status


class NetworkError(LstmBtError):
    """The Binance host could not be reached, or kept failing after every retry."""


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
