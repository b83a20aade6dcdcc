"""Plots of a backtest, drawn with matplotlib on Agg canvases: no display, no global state.

Importing this module does not touch pyplot or the matplotlib backend; every function returns
a `matplotlib.figure.Figure` and writes a PNG when given a path.
"""

from .cerebro import save_cerebro_plot
from .equity import plot_equity
from .forecasts import plot_forecasts
from .training import plot_training_loss

__all__ = ["plot_equity", "plot_forecasts", "plot_training_loss", "save_cerebro_plot"]
