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
    matplotlib's constrained layout, which measures every artist before drawing: slow on
    long runs.
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

