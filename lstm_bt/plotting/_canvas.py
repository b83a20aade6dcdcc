"""Figures that never touch pyplot: a `Figure` on its own Agg canvas, saved to PNG.

pyplot keeps global state (a backend, a registry of open figures); plots made here have
neither, so drawing on a headless server or inside someone's GUI session changes nothing.
"""

from pathlib import Path

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import InvalidParameter

DPI = 110


def new_figure(width=11.0, height=6.5):
    """A blank figure of `width` x `height` inches with an Agg canvas attached."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
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


def heading(title, symbol, interval, index, subject):
    """The figure title: the caller's `title`, or symbol, interval and period; then `subject`."""
    if title is None:
        market = " ".join(str(part) for part in (symbol, interval) if part) or "backtest"
        period = (f"{index[0]:%Y-%m-%d %H:%M} to {index[-1]:%Y-%m-%d %H:%M} UTC"
                  if len(index) else "no bars")
        title = f"{market}, {period}"
    return f"{title}\n{subject}"
