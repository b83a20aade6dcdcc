"""backtrader's own `cerebro.plot()` chart, written to PNG on a machine without a display.

Importing `backtrader.plot` calls `matplotlib.use("TkAgg")`, and `Plot` draws through pyplot
and ends in `pyplot.show()`: on a headless server that fails, and anywhere it switches the
user's backend. Here backtrader's module is imported with `matplotlib.use` held still, and the
plotter draws through a stand-in for the four pyplot calls it makes, onto Agg figures of its
own. backtrader itself is not patched and pyplot's state is never touched.
"""

import contextlib
import functools
import importlib
from pathlib import Path

import matplotlib
from matplotlib.artist import setp
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ...errors import InvalidParameter

__all__ = ["save_cerebro_plot"]


def save_cerebro_plot(cerebro, path, *, width=16, height=9, dpi=100, **plot_kwargs):
    """Render `cerebro.plot()` of a finished run to PNG, no display needed.

    Args:
        cerebro: a `backtrader.Cerebro` that has run (not with `exactbars` > 0, which keeps
            no history to draw).
        path: PNG to write. When the run gives several figures (several strategies, or
            `numfigs` > 1), the second is written to `<stem>_1.png`, and so on.
        width: figure width in inches. Defaults to `16`.
        height: figure height in inches. Defaults to `9`.
        dpi: resolution. Defaults to `100`.
        **plot_kwargs: passed to `cerebro.plot` (`numfigs`, `start`, `end`) and to
            backtrader's plot scheme (`style="candle"`, ...).

    Returns:
        The list of PNG paths written.

    Raises:
        InvalidParameter: cerebro has not run, or ran with `exactbars` > 0.
    """
    if not getattr(cerebro, "runstrats", None):
        raise InvalidParameter(
            "save_cerebro_plot() got a cerebro that has not run; call `cerebro.run()` first."
        )
    plot_args = {key: plot_kwargs.pop(key) for key in ("numfigs", "start", "end")
                 if key in plot_kwargs}
    plotter = _headless_plot_class()(**plot_kwargs)
    figures = cerebro.plot(plotter=plotter, iplot=False, **plot_args)
    if figures is None:
        raise InvalidParameter(
            "save_cerebro_plot() got a cerebro run with `exactbars` > 0, which keeps no bars "
            "to draw; run it with the default `exactbars=False`."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for number, figure in enumerate(fig for strategy_figs in figures for fig in strategy_figs):
        target = path if number == 0 else path.with_name(f"{path.stem}_{number}{path.suffix}")
        plotter.savefig(figure, str(target), width=width, height=height, dpi=dpi)
        written.append(target)
    return written


@contextlib.contextmanager
def _backend_held():
    """Make `matplotlib.use` a no-op for the duration: backtrader's import-time TkAgg."""
    use = matplotlib.use
    matplotlib.use = lambda *args, **kwargs: None
    try:
        yield
    finally:
        matplotlib.use = use


@functools.cache
def _headless_plot_class():
    """backtrader's `Plot`, drawing onto `_AggPyplot` and showing nothing."""
    with _backend_held():
        plot_module = importlib.import_module("backtrader.plot")

    class HeadlessPlot(plot_module.Plot):
        # `Plot.plot()` assigns the real pyplot to `self.mpyplot`; a property outranks
        # the instance attribute, so every pyplot call goes to the stand-in instead.
        mpyplot = property(lambda self: self._agg_pyplot, lambda self, _ignored: None)

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._agg_pyplot = _AggPyplot()

        def show(self):
            """Nothing to show: figures are only saved."""

    return HeadlessPlot


class _AggPyplot:
    """The pyplot calls backtrader's `Plot` makes, on Agg figures pyplot never registers."""

    def __init__(self):
        self._figure = None

    def figure(self, num=None):
        self._figure = Figure()
        FigureCanvasAgg(self._figure)
        return self._figure

    def subplot2grid(self, shape, loc, rowspan=1, colspan=1, **kwargs):
        grid = self._figure.add_gridspec(*shape)
        cell = grid[loc[0]:loc[0] + rowspan, loc[1]:loc[1] + colspan]
        return self._figure.add_subplot(cell, **kwargs)

    def setp(self, *args, **kwargs):
        return setp(*args, **kwargs)

    def autoscale(self, enable=True, axis="both", tight=None):
        self._figure.gca().autoscale(enable=enable, axis=axis, tight=tight)

    def show(self):
        """Nothing to show."""
