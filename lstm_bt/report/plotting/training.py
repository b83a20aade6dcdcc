"""Training and validation loss of every retrain window of a walk-forward model."""

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import cm
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from ..chart_data import heading
from ...errors import InvalidParameter
from ._canvas import date_axis, new_figure, save

__all__ = ["plot_training_loss"]


def plot_training_loss(history, path=None, *, title=None, symbol=None, interval=None,
                       report=None):
    """Draw final train/validation loss per window over time, and every window's curves.

    Top: the last epoch's training and validation loss of each fit, at the window's end
    date; a validation loss drifting away from training loss over time is overfitting or a
    changing market. Bottom: loss per epoch of every fit, coloured by the window's date.

    Args:
        history: one dict per fit with `window_end` (datetime), `loss` and `val_loss` (one
            value per epoch), as `LSTMStrategy.training_history` records it.
        path: where to write the PNG. Defaults to `None` (not saved).
        title: first title line. Defaults to `None`: symbol, interval and the period.
        symbol: market name for the default title. Defaults to `None`.
        interval: bar interval for the default title. Defaults to `None`.
        report: the `report.json` dict: the title then names the backtest's period (start to
            exclusive end, as the summary and equity.png do), not the first and last window
            end. Defaults to `None`.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        InvalidParameter: `history` is empty or a fit lacks `window_end` or `loss`.
    """
    fits = _checked(history)
    ends = pd.DatetimeIndex([fit["window_end"] for fit in fits])
    figure = new_figure(height=7.5)
    top, bottom = figure.subplots(2, 1, height_ratios=[1, 1.2])
    figure.suptitle(heading(title, symbol, interval, ends,
                            f"Training and validation loss over {len(fits)} retrain windows",
                            report))

    top.plot(ends, [fit["loss"][-1] for fit in fits], "o-", color="tab:blue", ms=4,
             label="Training (last epoch)")
    if any(_count(fit.get("val_loss")) for fit in fits):
        top.plot(ends, [_last(fit.get("val_loss")) for fit in fits], "s--", color="tab:orange",
                 ms=4, label="Validation (last epoch)")
    top.set_ylabel("Loss (training objective)")
    top.set_xlabel("Window end (UTC)")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    date_axis(top)

    norm = Normalize(mdates.date2num(ends.min()), mdates.date2num(ends.max()) + 1e-9)
    colours = cm.viridis
    for end, fit in zip(ends, fits):
        colour = colours(norm(mdates.date2num(end)))
        epochs = np.arange(1, len(fit["loss"]) + 1)
        bottom.plot(epochs, fit["loss"], color=colour, lw=1.0)
        if _count(fit.get("val_loss")):
            bottom.plot(epochs, fit["val_loss"], color=colour, lw=1.0, ls="--")
    bottom.plot([], [], color="0.3", label="Training")
    bottom.plot([], [], color="0.3", ls="--", label="Validation")
    bottom.set_xlabel("Epoch")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.set_ylabel("Loss (training objective)")
    bottom.legend(loc="upper right")
    bottom.grid(alpha=0.3)
    bar = figure.colorbar(cm.ScalarMappable(norm=norm, cmap=colours), ax=bottom)
    bar.set_label("Window end")
    bar.ax.yaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    save(figure, path)
    return figure


def _count(values):
    return 0 if values is None else len(values)


def _last(values):
    return values[-1] if _count(values) else np.nan


def _checked(history):
    fits = list(history or ())
    if not fits:
        raise InvalidParameter(
            "Received an empty `history`; the strategy recorded no fit. Plot the loss of a "
            "run that trained (not a forecast-cache replay)."
        )
    for number, fit in enumerate(fits):
        if "window_end" not in fit or not _count(fit.get("loss")):
            raise InvalidParameter(
                f"`history[{number}]` needs `window_end` and a non-empty `loss` list, got keys "
                f"{sorted(fit)}; pass `strategy.training_history`."
            )
    return fits
