"""Draw a run directory's pictures in processes that get ready while the backtest runs.

A run directory's pictures (three PNGs and report.html) cost more than a backtest that replays
cached forecasts: importing matplotlib and Bokeh and drawing a first figure take ~0.8 s, the
pictures ~0.5 s more. Inside `drawing_ahead()` two processes are forked at once; they import
the libraries and draw a throwaway figure while the parent loads bars and runs the backtest,
then draw the pictures side by side when `run_dir.write_plots` hands them over (`draw`): one
process draws the PNGs with matplotlib, the other report.html with Bokeh. The
files are the same as drawn inline; the command returns once they are written.

It forks only where that is safe: on Linux (macOS has `fork` too, but its system libraries
are not safe to use in a forked child), and while the parent has one Python thread and no
deep-learning backend loaded (their thread pools do not survive a fork). Elsewhere, and outside `drawing_ahead()`, `draw` draws
inline. A drawing process that dies is no loss: `draw` then draws inline. Nothing but the two
processes and their pipes is made: the parent starts no thread, so forking stays safe.
"""

import contextlib
import logging
import multiprocessing
import signal
import sys
import threading
import traceback

__all__ = ["drawing_ahead", "draw"]

log = logging.getLogger(__name__)

_BACKENDS = ("tensorflow", "jax", "torch")
_drawers = {}  # library -> the innermost `drawing_ahead`'s process for it; empty: draw inline


@contextlib.contextmanager
def drawing_ahead():
    """Within this block, `draw` uses two warmed-up drawing processes (where forking is safe):
    one for matplotlib's PNGs, one for Bokeh's report.html.

    Example:
        >>> with drawing_ahead():  # doctest: +SKIP
        ...     run_backtest(..., out="runs/btc")  # the pictures are drawn side by side
    """
    global _drawers
    drawers = ({library: _Drawer(warm_up) for library, warm_up in _WARM_UPS.items()}
               if _fork_is_safe() else {})
    outer, _drawers = _drawers, drawers
    try:
        yield
    finally:
        _drawers = outer
        for drawer in drawers.values():
            drawer.close()


def draw(jobs):
    """Run every `(library, function, *args)` of `jobs`; return when all are done.

    `library` ("matplotlib" or "bokeh") names what `function` draws with: inside
    `drawing_ahead()` the job runs in the process warmed up for it, else here, in order.
    An error of a job is raised here, as the job raised it.
    """
    drawers = _drawers
    if drawers:
        # One message per process, all its jobs in it: no process waits for another's send.
        shares = {}
        for library, *job in jobs:
            shares.setdefault(library, []).append(job)
        try:
            for library, share in shares.items():
                drawers[library].send(share)
            for library in shares:
                drawers[library].receive()
            return
        except _DrawerGone:
            log.info("a drawing process ended early; drawing here instead")
            for drawer in drawers.values():
                drawer.close()
            drawers.clear()
    for _, function, *args in jobs:
        function(*args)


class _DrawerGone(Exception):
    pass


class _Drawer:
    """One forked process that warms up with `warm_up()`, then runs each list of jobs sent to
    it and answers `(failed, error)`."""

    def __init__(self, warm_up):
        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve, daemon=True, name="lstm-bt drawing",
                                        args=(child_end, self._pipe, warm_up))
        self._process.start()
        child_end.close()

    def send(self, jobs):
        try:
            self._pipe.send(jobs)
        except OSError:
            raise _DrawerGone from None

    def receive(self):
        try:
            failed, error = self._pipe.recv()
        except (EOFError, OSError):
            raise _DrawerGone from None
        if failed:
            raise error

    def close(self):
        with contextlib.suppress(OSError):
            self._pipe.send(None)  # the process's cue to exit
        self._pipe.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()


def _serve(pipe, parent_end, warm_up):
    """A drawing process: leave Ctrl-C to the parent; warm up (in a thread, so jobs can be
    read meanwhile); then run each list of jobs received, until told to stop or the parent's
    end of the pipe closes (a killed parent leaves no drawing process behind)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent_end.close()
    warming = threading.Thread(target=_quietly, args=(warm_up,), daemon=True)
    warming.start()
    while True:
        try:
            jobs = pipe.recv()
        except (EOFError, OSError):
            return
        if jobs is None:
            return
        warming.join()
        try:
            for function, *args in jobs:
                function(*args)
            pipe.send((False, None))
        except Exception as error:  # sent to the parent, which raises it
            error.add_note("".join(traceback.format_exception(error)).rstrip())
            pipe.send((True, error))


def _quietly(warm_up):
    with contextlib.suppress(Exception):  # a warm-up only: a real failure shows in the job
        warm_up()


def _fork_is_safe():
    """Linux, one Python thread, and no deep-learning backend loaded: their native thread
    pools are not fork-aware (NumPy's OpenBLAS pool is: it parks itself around a fork)."""
    return (sys.platform.startswith("linux") and threading.active_count() == 1
            and not any(backend in sys.modules for backend in _BACKENDS))


def _tiny_equity():
    import pandas as pd

    return pd.DataFrame({"value": [1.0, 1.5, 1.2], "benchmark": [1.0, 1.1, 1.3]},
                        index=pd.date_range("2024-01-01", periods=3, freq="h", name="datetime"))


def _warm_up_matplotlib():
    import io

    from .plotting import plot_equity

    plot_equity(_tiny_equity()).savefig(io.BytesIO(), format="png")


def _warm_up_bokeh():
    from .html import html_report

    html_report(_tiny_equity())


_WARM_UPS = {"matplotlib": _warm_up_matplotlib, "bokeh": _warm_up_bokeh}

