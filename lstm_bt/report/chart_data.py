"""The data behind a run's charts, shared by the PNGs (`plotting`) and report.html
(`html_report`): frames indexed by datetime, titles, drawdowns, forecast times, net P&L.

No plotting library is imported here: report.html and the PNGs are drawn in separate
processes, each paying for its own library only.
"""

import numpy as np
import pandas as pd

from ..errors import InvalidParameter

__all__ = ["by_datetime", "heading", "period_text", "drawdown_pct", "forecast_times", "net_pnl",
           "open_trades", "held_until"]


def by_datetime(frame, needed, what):
    """`frame` (a DataFrame, or a dict of columns) indexed by a sorted `DatetimeIndex`.

    Accepts the datetime as the index or as a `datetime` column, as the runner and the
    analyzers produce them.

    Raises:
        InvalidParameter: a column in `needed` is missing; the message names it.
    """
    frame = pd.DataFrame(frame)
    if "datetime" in frame.columns:
        frame = frame.set_index("datetime")
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise InvalidParameter(
            f"The {what} frame lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, frame.columns)) or 'none'}. Pass the {what} frame the "
            "backtest produced."
        )
    frame.index = pd.DatetimeIndex(frame.index)
    return frame.sort_index()


def heading(title, symbol, interval, index, subject, report=None):
    """The figure title: the caller's `title`, or symbol, interval and period; then `subject`.

    With a `report`, the period is its `data` start and exclusive end, so every plot and the
    printed summary name the same end; otherwise the first and last datetime of `index`.
    """
    if title is None:
        market = " ".join(str(part) for part in (symbol, interval) if part) or "backtest"
        title = f"{market}, {period_text(report, index)}"
    return f"{title}\n{subject}"


def period_text(report, index=()):
    """"2024-01-01 00:00 to 2024-03-01 00:00 UTC, end exclusive" from a report's `data`, or
    the first to the last datetime of `index` when there is no report."""
    data = (report or {}).get("data", {})
    if data.get("start") and data.get("end"):
        return (f"{data['start'].replace('T', ' ')[:16]} to {data['end'].replace('T', ' ')[:16]} "
                "UTC, end exclusive")
    if len(index):
        return f"{index[0]:%Y-%m-%d %H:%M} to {index[-1]:%Y-%m-%d %H:%M} UTC"
    return "no bars"


def drawdown_pct(values):
    """Percent below the running peak of the curve itself (its first value is the peak)."""
    values = np.asarray(values, dtype=float)
    return 100.0 * (1.0 - values / np.maximum.accumulate(values))


def forecast_times(index):
    """The datetime of the bar each row's forecast is about: the next row's, and one bar on."""
    if len(index) < 2:
        return index
    step = pd.Series(index).diff().median()
    return index[1:].append(pd.DatetimeIndex([index[-1] + step]))


def net_pnl(trades):
    """Each trade's profit after commission (`pnl_net`), or before it (`pnl`) for a trades
    frame written without the net column."""
    column = "pnl_net" if "pnl_net" in trades else "pnl"
    return trades[column].to_numpy(float)


def open_trades(report):
    """The trades still open at the end of the run (`report["open_trades"]`) as a frame with
    the trades frame's columns and `mark_price`; empty when the run ended flat."""
    rows = (report or {}).get("open_trades") or []
    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["open_datetime", "side"])
    frame["open_datetime"] = pd.to_datetime(frame["open_datetime"])
    return frame


def held_until(report, index):
    """Where an open position's span ends on a chart: the run's exclusive end from `report`,
    else the last datetime of `index`."""
    end = (report or {}).get("data", {}).get("end")
    return pd.Timestamp(end) if end else index[-1]
