"""The rolling walk-forward schedule: which bars each model trains on and which it forecasts.

This is the one place that decides it (ARCHITECTURE, "No lookahead"). Bars are counted from 0
in the order the feed delivers them. Terms:

- A forecast is made at the close of its *origin* bar t and predicts the close of bar t + 1.
- `train_window` is the number of training samples of a model: (input sequence, next bar)
  pairs. The sample that targets bar j reads the `seq_len` bars before it, j - seq_len .. j - 1,
  and each input row also needs the close before it (log returns), so a model fit at the close
  of bar t reads bars t - train_window - seq_len .. t: `train_window + seq_len + 1` bars, the
  last one being t itself.
- `required_history(train_window, seq_len)` = `train_window + seq_len` is therefore how many
  bars must exist *before* the first tradable bar (DESIGN: "train window + sequence length").
- The model fit at the close of bar t serves the origins t .. t + retrain_every - 1: the
  window that forecasts bar t + 1 ends at bar t, and a later origin never uses a model fit
  after it.
"""

from typing import NamedTuple

from ..errors import InvalidParameter, check_int

__all__ = ["Window", "required_history", "window_at", "rolling_schedule", "check_schedule_params"]


class Window(NamedTuple):
    """One model of the walk-forward, as half-open bar ranges.

    Attributes:
        fit_at: the bar at whose close the model is fit (its last training bar).
        train_start: first bar the model reads.
        train_stop: one past the last bar it reads (`fit_at + 1`).
        origin_start: first bar at whose close it forecasts (`fit_at`).
        origin_stop: one past the last such bar; the bars forecast are the origins + 1.
    """

    fit_at: int
    train_start: int
    train_stop: int
    origin_start: int
    origin_stop: int


def check_schedule_params(train_window, seq_len, retrain_every):
    """`(train_window, seq_len, retrain_every)` as Python ints; `InvalidParameter` unless the
    three schedule parameters can work together."""
    seq_len = check_int("seq_len", seq_len, low=1)
    train_window = check_int("train_window", train_window, low=1)
    retrain_every = check_int("retrain_every", retrain_every, low=1)
    if seq_len >= train_window:
        raise InvalidParameter(
            f"Received an invalid value for `seq_len`, expected fewer bars than "
            f"`train_window` ({train_window}), got {seq_len}. Lower `seq_len` or raise "
            f"`train_window` (the number of training samples per model)."
        )
    return train_window, seq_len, retrain_every


def required_history(train_window, seq_len):
    """Bars needed before the first tradable bar for the first model to be fit.

    Args:
        train_window: training samples per model.
        seq_len: bars in one input sequence.

    Returns:
        `train_window + seq_len`.

    Example:
        >>> required_history(2000, 60)
        2060
    """
    return train_window + seq_len


def window_at(origin, first_tradable, train_window, seq_len, retrain_every):
    """The window whose model forecasts from the close of bar `origin`.

    Args:
        origin: the bar at whose close the forecast is made; `>= first_tradable`.
        first_tradable: the first bar that may trade; `>= required_history(...)`.
        train_window: training samples per model.
        seq_len: bars in one input sequence.
        retrain_every: bars between two fits.

    Returns:
        A `Window` (its `origin_stop` is not clipped to the end of the data).
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
    """Every window of a walk-forward over `n_bars` bars.

    Args:
        n_bars: bars in the data.
        first_tradable: the first bar that may trade (index into the data).
        train_window: training samples per model.
        seq_len: bars in one input sequence.
        retrain_every: bars between two fits.

    Returns:
        A list of `Window`, in time order, whose origins cover `first_tradable .. n_bars - 1`
        exactly once; the last window's `origin_stop` is clipped to `n_bars`.

    Example:
        >>> [w.fit_at for w in rolling_schedule(100, 30, 20, 5, 25)]
        [30, 55, 80]
    """
    check_schedule_params(train_window, seq_len, retrain_every)
    windows = []
    for fit_at in range(first_tradable, n_bars, retrain_every):
        window = window_at(fit_at, first_tradable, train_window, seq_len, retrain_every)
        windows.append(window._replace(origin_stop=min(window.origin_stop, n_bars)))
    return windows
