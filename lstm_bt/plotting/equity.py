"""Equity curve against buy and hold, with the drawdown underneath."""

import numpy as np

from ._canvas import by_datetime, date_axis, heading, new_figure, save

__all__ = ["plot_equity"]


def plot_equity(equity, path=None, *, title=None, symbol=None, interval=None):
    """Draw the portfolio value against buy and hold, and both drawdowns below it.

    Args:
        equity: the equity frame: `datetime` (index or column), `value`, and optionally
            `benchmark` (buy and hold), as `EquityCurve` and equity.csv hold it.
        path: where to write the PNG. Defaults to `None` (not saved).
        title: first title line. Defaults to `None`: symbol, interval and the period.
        symbol: market name for the default title, e.g. `"BTCUSDT"`. Defaults to `None`.
        interval: bar interval for the default title, e.g. `"1h"`. Defaults to `None`.

    Returns:
        The `matplotlib.figure.Figure` (on an Agg canvas; pyplot is never involved).
    """
    frame = by_datetime(equity, ["value"], "equity")
    figure = new_figure()
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    figure.suptitle(heading(title, symbol, interval, frame.index,
                            "Strategy equity vs buy and hold"))

    top.plot(frame.index, frame["value"], color="tab:blue", lw=1.4, label="Strategy")
    bottom.fill_between(frame.index, -_drawdown_pct(frame["value"]), 0, color="tab:red",
                        alpha=0.35, lw=0, label="Strategy")
    if "benchmark" in frame:
        top.plot(frame.index, frame["benchmark"], color="0.45", lw=1.0, label="Buy and hold")
        bottom.plot(frame.index, -_drawdown_pct(frame["benchmark"]), color="0.45", lw=0.9,
                    label="Buy and hold")
    top.set_ylabel("Portfolio value (quote currency)")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.set_ylabel("Drawdown (%)")
    bottom.set_xlabel("Date (UTC)")
    bottom.legend(loc="lower left")
    bottom.grid(alpha=0.3)
    date_axis(bottom)
    save(figure, path)
    return figure


def _drawdown_pct(values):
    """Percent below the running peak of the curve itself (its first value is the peak)."""
    values = np.asarray(values, dtype=float)
    return 100.0 * (1.0 - values / np.maximum.accumulate(values))
