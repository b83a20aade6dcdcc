"""The rolling walk-forward schedule: which bars each model trains on and forecasts from.

The one place that decides it. Bars count from 0 in feed order. A forecast made at the close
of its origin bar t predicts the close of t + 1. A model fit at the close of bar t trains on
`train_window` samples, each `seq_len` bars and the close after them, so it reads bars
t - train_window - seq_len .. t; it serves the origins t .. t + retrain_every - 1, so no
origin uses a model fit after it. `required_history` bars must precede the first tradable bar.
"""

from typing import NamedTuple

from ..errors import InvalidParameter, check_int

__all__ = ["Window", "required_history", "window_at", "rolling_schedule", "check_schedule_params",
           "MAX_BARS"]

# The most bars a bar count (`train_window`, `seq_len`, `retrain_every`, `input_warmup`) may
# be: far beyond any kline history (a billion 1m bars is 1,900 years), and small enough that
# bar arithmetic on timestamps and arrays stays in range.
MAX_BARS = 10**9


class Window(NamedTuple):
    """One model of the walk-forward, as half-open bar ranges.

    It is fit at the close of bar `fit_at`, reads bars `train_start .. train_stop - 1` and
    forecasts from the close of each bar `origin_start .. origin_stop - 1`.
    """

    fit_at: int
    train_start: int
    train_stop: int
    origin_start: int
    origin_stop: int


def check_schedule_params(train_window, seq_len, retrain_every):
    """The three schedule params as Python ints, or `InvalidParameter`."""
    seq_len = check_int("seq_len", seq_len, low=1, high=MAX_BARS, meaning="bars")
    train_window = check_int("train_window", train_window, low=1, high=MAX_BARS,
                             meaning="training samples")
    retrain_every = check_int("retrain_every", retrain_every, low=1, high=MAX_BARS,
                              meaning="bars")
    if seq_len >= train_window:
        raise InvalidParameter(
            f"Received an invalid value for `seq_len`, expected fewer bars than "
            f"`train_window` ({train_window}), got {seq_len}. Lower `seq_len` or raise "
            f"`train_window` (the number of training samples per model)."
        )
    return train_window, seq_len, retrain_every


def required_history(train_window, seq_len):
    """Bars needed before the first tradable bar: `train_window + seq_len`."""
    return train_window + seq_len


def window_at(origin, first_tradable, train_window, seq_len, retrain_every):
    """The window whose model forecasts from the close of bar `origin` (>= `first_tradable`).

    `first_tradable` must be at least `required_history(train_window, seq_len)`; the window's
    `origin_stop` is not clipped to the end of the data.
    """
    if first_tradable < required_history(train_window, seq_len):
        raise InvalidParameter(
            f"Received an invalid value for `first_tradable`, expected at least "
            f"{required_history(train_window, seq_len)} bars of history "
            f"(train_window + seq_len), got {first_tradable}."
        )
    if origin < first_tradable:
        raise InvalidParameter(
            f"Received an invalid value for `origin`, expected a bar at or after the first "
            f"tradable bar {first_tradable}, got {origin}."
        )
    fit_at = origin - (origin - first_tradable) % retrain_every
    return Window(
        fit_at=fit_at,
        train_start=fit_at - train_window - seq_len,
        train_stop=fit_at + 1,
        origin_start=fit_at,
        origin_stop=fit_at + retrain_every,
    )


def rolling_schedule(n_bars, first_tradable, train_window, seq_len, retrain_every):
    """Every window over `n_bars` bars, in time order; the last `origin_stop` is `n_bars`."""
    check_schedule_params(train_window, seq_len, retrain_every)
    windows = []
    for fit_at in range(first_tradable, n_bars, retrain_every):
        window = window_at(fit_at, first_tradable, train_window, seq_len, retrain_every)
        windows.append(window._replace(origin_stop=min(window.origin_stop, n_bars)))
    return windows
