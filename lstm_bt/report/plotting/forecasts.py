"""The model's one-bar-ahead forecasts against the closes that followed, with the trades, and
an honest panel: the forecast's rolling hit rate against the best naive rule's."""

import numpy as np
import pandas as pd

from ... import stats
from ..chart_data import by_datetime, forecast_times, heading, held_until, net_pnl, open_trades
from ._canvas import THOUSANDS, date_axis, new_figure, save, shade_spans

__all__ = ["plot_forecasts"]

_WON, _LOST, _OPEN = "tab:green", "tab:red", "tab:olive"


def plot_forecasts(forecasts, path=None, *, trades=None, title=None, symbol=None,
                   interval=None, zoom_bars=250, report=None, hit_window=None):
    """Draw closes, forecasts and trades, and the rolling hit rate against naive rules.

    A forecast made at bar t is of close_(t+1), so it is drawn at bar t+1, where it can be
    compared with the close it predicted. Over thousands of bars the forecast line hides the
    close and trade markers blur into one band, so a run longer than 2 x `zoom_bars` shows
    its trades at full scale as shaded spans (green: won, red: lost, after commission; olive:
    still open at the end) and gets a close-up of its last `zoom_bars` bars with the
    forecast and every entry and exit.
    A price overlay looks convincing even at a hit rate of 0.50, so the last panel shows the
    rolling hit rate of the forecast beside the better of "repeat the last move" and
    "reverse the last move".

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
        report: the `report.json` dict, for the period in the title and the positions still
            open at the end (`open_trades`). Defaults to `None`.
        hit_window: scored bars per rolling hit rate. Defaults to `None`: a tenth of the
            bars, at least 24.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    frame = by_datetime(forecasts, ["close", "predicted_close"], "forecasts")
    zoomed = len(frame) > 2 * zoom_bars
    figure = new_figure(height=9.5 if zoomed else 7.5, top=0.92, hspace=0.32)
    axes = figure.subplots(3 if zoomed else 2, 1, height_ratios=[2, 2, 1.3][-(2 + zoomed):])
    figure.suptitle(heading(title, symbol, interval, frame.index,
                            "One-bar-ahead forecast vs actual close", report))
    trades = None if trades is None else pd.DataFrame(trades)
    still_open = open_trades(report)
    if zoomed:
        _draw_overview(axes[0], frame, trades, still_open, held_until(report, frame.index))
        _draw_detail(axes[1], frame.iloc[-zoom_bars:], trades, still_open)
        axes[1].set_title(f"Last {zoom_bars} bars", fontsize="medium")
    else:
        _draw_detail(axes[0], frame, trades, still_open)
    _draw_hit_rates(axes[-1], frame, hit_window)
    save(figure, path)
    return figure


def _draw_overview(axis, frame, trades, still_open, end):
    """The whole run: the close, each trade's span shaded by its net result, and the
    positions still open at the end."""
    axis.plot(frame.index, frame["close"], color="0.2", lw=0.8, label="Actual close")
    if trades is not None and len(trades):
        won = net_pnl(trades) > 0
        for mask, colour, label in ((won, _WON, "Trade won"), (~won, _LOST, "Trade lost")):
            shade_spans(axis, trades["open_datetime"][mask], trades["close_datetime"][mask],
                        color=colour, alpha=0.3, label=f"{label} ({int(mask.sum())})")
    if len(still_open):
        shade_spans(axis, still_open["open_datetime"], [end] * len(still_open), color=_OPEN,
                    alpha=0.3, label=f"Still open at the end ({len(still_open)})")
    _price_axis(axis)


def _draw_detail(axis, frame, trades, still_open):
    """Closes, forecasts and the entries and exits in this frame's span, on one axis."""
    axis.plot(frame.index, frame["close"], color="0.2", lw=1.1, label="Actual close")
    axis.plot(forecast_times(frame.index), frame["predicted_close"], color="tab:orange",
              lw=1.0, alpha=0.85, label="Forecast (drawn at the bar it predicts)")
    # Trades of the whole run may start before the forecasts shown; keep the chart's span.
    shown = slice(frame.index.min(), forecast_times(frame.index).max())
    if len(still_open):
        shade_spans(axis, still_open["open_datetime"], [shown.stop] * len(still_open),
                    color=_OPEN, alpha=0.3, label="Still open at the end")
    for marker, label, points, colours in _markers(frame, trades, still_open):
        keep = (points.index >= shown.start) & (points.index <= shown.stop)
        if not keep.any():
            continue
        axis.scatter(points.index[keep], points[keep], marker=marker, s=45,
                     c=np.asarray(colours)[keep], edgecolors="black", linewidths=0.4,
                     zorder=3, label=label)
    _price_axis(axis)


def _price_axis(axis):
    axis.set_ylabel("Price (quote currency)")
    axis.yaxis.set_major_formatter(THOUSANDS)
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)
    date_axis(axis)


def _draw_hit_rates(axis, frame, window):
    """Rolling share of next moves called right: the forecast vs the better naive rule."""
    model, repeat = stats.direction_hits(frame["close"].to_numpy(float),
                                         frame["predicted_close"].to_numpy(float))
    skill = stats.forecast_skill(frame["close"].to_numpy(float),
                                 frame["predicted_close"].to_numpy(float))
    rule, _ = stats.best_naive_rule(skill)
    naive = 1.0 - repeat if rule == "reverse the last move" else repeat
    window = window or max(24, len(frame) // 10)
    for hits, colour, label in ((model, "tab:orange", f"Forecast ({_rate(skill['hit_rate'])})"),
                                (naive, "0.45", f"Naive: {rule or 'n/a'} "
                                                f"({_rate(skill['best_naive_hit_rate'])})")):
        rolling = pd.Series(hits, frame.index).dropna().rolling(window).mean()
        axis.plot(rolling.index, rolling, color=colour, lw=1.0, label=label)
    axis.axhline(0.5, color="black", lw=0.7, ls=":")
    axis.set_ylabel(f"Hit rate, last {window}\nscored bars")
    axis.set_xlabel("Date (UTC)")
    axis.legend(loc="upper left", fontsize="small", ncols=2)
    axis.grid(alpha=0.3)
    date_axis(axis)


def _rate(value):
    return "n/a" if value is None else f"{value:.3f} overall"


def _markers(frame, trades, still_open):
    """(marker, label, prices by datetime, colours) for entries and exits, from fills
    coloured by the trade's net result, or from signal changes when there are no trades;
    then the entries of the positions still open."""
    if trades is None and "signal" in frame:
        change = np.sign(frame["signal"].astype(float).diff().fillna(0.0))
        buys, sells = frame["close"][change > 0], frame["close"][change < 0]
        return [("^", "Buy signal", buys, [_WON] * len(buys)),
                ("v", "Sell signal", sells, [_LOST] * len(sells))]
    markers = [] if trades is None else _trade_markers(trades)
    if len(still_open):
        entries = pd.Series(still_open["entry_price"].to_numpy(float),
                            pd.DatetimeIndex(still_open["open_datetime"]))
        markers.append(("o", "Entry, still open at the end", entries, [_OPEN] * len(entries)))
    return markers


def _trade_markers(trades):
    """Entry and exit markers of closed trades, coloured by their net result."""
    if not len(trades):
        return []
    colours = np.where(net_pnl(trades) > 0, _WON, _LOST)
    long = trades["side"].eq("long").to_numpy()
    opened = pd.Series(trades["entry_price"].to_numpy(float),
                       pd.DatetimeIndex(trades["open_datetime"]))
    closed = pd.Series(trades["exit_price"].to_numpy(float),
                       pd.DatetimeIndex(trades["close_datetime"]))
    entry_marker = np.where(long, "^", "v")
    return [(marker, f"{'Long' if marker == '^' else 'Short'} entry (colour: trade result)",
             opened[entry_marker == marker], colours[entry_marker == marker])
            for marker in ("^", "v") if (entry_marker == marker).any()] + [
            ("X", "Exit", closed, colours)]
