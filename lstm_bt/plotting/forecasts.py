"""The model's one-bar-ahead forecasts against the closes that followed, with the trades."""

import numpy as np
import pandas as pd

from ._canvas import by_datetime, date_axis, heading, new_figure, save

__all__ = ["plot_forecasts"]


def plot_forecasts(forecasts, path=None, *, trades=None, title=None, symbol=None,
                   interval=None, zoom_bars=250):
    """Draw actual closes and the forecasts of them, with buy and sell markers.

    A forecast made at bar t is of close_(t+1), so it is drawn at bar t+1, where it can be
    compared with the close it predicted. Over thousands of bars the two lines merge, so a
    longer run gets a second panel with its last `zoom_bars` bars.

    Args:
        forecasts: the forecasts frame: `datetime` (index or column), `close`,
            `predicted_close`, and `signal` (target position: 1, 0 or -1), as
            `LSTMStrategy.forecasts_frame()` and forecasts.csv hold it.
        path: where to write the PNG. Defaults to `None` (not saved).
        trades: the trades frame (`TradeLog` / trades.csv) to mark actual fills. Defaults
            to `None`: markers show where `signal` rises (buy) and falls (sell) instead.
        title: first title line. Defaults to `None`: symbol, interval and the period.
        symbol: market name for the default title. Defaults to `None`.
        interval: bar interval for the default title. Defaults to `None`.
        zoom_bars: bars in the close-up panel, drawn when the run is longer. Defaults to
            `250`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    frame = by_datetime(forecasts, ["close", "predicted_close"], "forecasts")
    zoomed = len(frame) > 2 * zoom_bars
    figure = new_figure(height=8.5 if zoomed else 6.5)
    axes = figure.subplots(2, 1) if zoomed else [figure.subplots()]
    figure.suptitle(heading(title, symbol, interval, frame.index,
                            "One-bar-ahead forecast vs actual close"))
    buys, sells = _markers(frame, trades)
    _draw(axes[0], frame, buys, sells, fills=trades is not None, marker_size=60 / (1 + zoomed))
    if zoomed:
        _draw(axes[1], frame.iloc[-zoom_bars:], buys, sells, fills=trades is not None,
              marker_size=60)
        axes[1].set_title(f"Last {zoom_bars} bars", fontsize="medium")
    save(figure, path)
    return figure


def _draw(axis, frame, buys, sells, fills, marker_size):
    """Closes, forecasts and the markers that fall in this frame's span, on one axis."""
    axis.plot(frame.index, frame["close"], color="0.2", lw=1.1, label="Actual close")
    axis.plot(_forecast_times(frame.index), frame["predicted_close"], color="tab:orange",
              lw=1.0, alpha=0.85, label="Forecast (drawn at the bar it predicts)")
    # Trades of the whole run may start before the forecasts shown; keep the chart's span.
    shown = slice(frame.index.min(), _forecast_times(frame.index).max())
    buys, sells = buys.sort_index()[shown], sells.sort_index()[shown]
    axis.scatter(buys.index, buys, marker="^", s=marker_size, color="tab:green", zorder=3,
                 label="Buy" if fills else "Buy signal")
    axis.scatter(sells.index, sells, marker="v", s=marker_size, color="tab:red", zorder=3,
                 label="Sell" if fills else "Sell signal")
    axis.set_ylabel("Price (quote currency)")
    axis.set_xlabel("Date (UTC)")
    axis.legend(loc="upper left")
    axis.grid(alpha=0.3)
    date_axis(axis)


def _forecast_times(index):
    """The datetime of the bar each row's forecast is about: the next row's, and one bar on."""
    if len(index) < 2:
        return index
    step = pd.Series(index).diff().median()
    return index[1:].append(pd.DatetimeIndex([index[-1] + step]))


def _markers(frame, trades):
    """(buys, sells): prices indexed by datetime, from fills or from signal changes."""
    if trades is not None:
        trades = pd.DataFrame(trades)
        long = trades["side"].eq("long").to_numpy()
        opened = pd.Series(trades["entry_price"].to_numpy(),
                           pd.DatetimeIndex(trades["open_datetime"]))
        closed = pd.Series(trades["exit_price"].to_numpy(),
                           pd.DatetimeIndex(trades["close_datetime"]))
        return (pd.concat([opened[long], closed[~long]]),
                pd.concat([closed[long], opened[~long]]))
    if "signal" not in frame:
        empty = pd.Series(dtype=float, index=pd.DatetimeIndex([]))
        return empty, empty
    change = np.sign(frame["signal"].astype(float).diff().fillna(0.0))
    return frame["close"][change > 0], frame["close"][change < 0]
