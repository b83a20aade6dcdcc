"""Figures that never touch pyplot: a `Figure` on its own Agg canvas, saved to PNG.

pyplot keeps global state (a backend, a registry of open figures); plots made here have
neither, so drawing on a headless server or inside someone's GUI session changes nothing.
"""

import io
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..errors import InvalidParameter

DPI = 110
# 140,000 rather than 140000 (or 1.4e5) on price and value axes.
THOUSANDS = FuncFormatter(lambda value, _position: f"{value:,.0f}")


class InlineFigure(Figure):
    """A `Figure` that Jupyter shows as a PNG when a cell ends with it, with no pyplot and
    no `%matplotlib inline` (IPython looks for `_repr_png_`)."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def new_figure(width=11.0, height=6.5, top=0.88, bottom=None, hspace=0.25, right=0.985):
    """A blank figure of `width` x `height` inches with an Agg canvas attached.

    Margins are fixed (`top`, `bottom`, `right` as fractions of the figure) instead of
    matplotlib's constrained layout, which measures every artist before drawing and more
    than doubled the time to write a 9,000-bar PNG (benchmarks/bench_report.py).
    """
    figure = InlineFigure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    bottom = 0.55 / height if bottom is None else bottom
    figure.subplots_adjust(left=0.9 / width, right=right, top=top, bottom=bottom, hspace=hspace)
    return figure


def save(figure, path):
    """Write `figure` as a PNG to `path` (parent folders created); nothing when path is None."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")


def date_axis(axis):
    """Concise date ticks on the x-axis (hours when zoomed in, months over a year)."""
    locator = mdates.AutoDateLocator()
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


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


def shade_spans(axis, starts, ends, **style):
    """Shade the full height of `axis` from each start to its end (datetimes), as one
    collection of rectangles: cheap for thousands of spans, unlike an `axvspan` each or
    one stepped polygon over every bar."""
    left = mdates.date2num(pd.DatetimeIndex(starts))
    right = mdates.date2num(pd.DatetimeIndex(ends))
    boxes = np.stack([np.column_stack([left, left, right, right]),
                      np.tile([0.0, 1.0, 1.0, 0.0], (len(left), 1))], axis=-1)
    spans = PolyCollection(boxes, transform=axis.get_xaxis_transform(), lw=0, **style)
    axis.add_collection(spans, autolim=False)
    return spans


def net_pnl(trades):
    """Each trade's profit after commission (`pnl_net`), or before it (`pnl`) for a trades
    frame written without the net column."""
    column = "pnl_net" if "pnl_net" in trades else "pnl"
    return trades[column].to_numpy(float)
