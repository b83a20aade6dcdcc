"""A sweep's task: one walk-forward, trained once, then every cell that shares it replayed.

A task carries its bars (its period and warm-up, cut in the client): workers share no disk
with the client, and a task lost with its worker runs again anywhere.
"""

import importlib
import logging
import time

__all__ = ["run_walk_forward", "failed_results", "thread_environment", "RETRIES"]

log = logging.getLogger(__name__)

# Times a task runs again after its worker process died under it.
RETRIES = 2
THREAD_VARIABLES = ("LSTM_BT_THREADS", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run_walk_forward(frame, walk, broker):
    """On a worker: cut the bars, train the walk-forward once, replay each of its cells.

    Args:
        frame: the bars of the walk-forward (`plan.bars_for`): warm-up history, then its period.
        walk: a `plan.TrainingTask` (only the cells still to compute).
        broker: `cash`, `commission`, `slippage`.

    Returns:
        One result dict per cell of `walk`: `key`, `status` (`ok`/`failed`), `error`,
        `report` (None when failed), `returns` (per-bar, None when failed), `train_s`,
        `total_s` (training plus this cell's replay), `walk_s` (the whole task: training and
        every replay; the progress bar's ETA). No time counts the Keras backend's import,
        once a process.
    """
    from ..models.backend import configure
    from ..run.backtest_data import load_backtest_data
    from . import cell as engine

    configure()  # and import Keras: once a process, a cost of the worker, not of this task
    importlib.import_module("keras")
    began = time.perf_counter()
    try:
        bars = load_backtest_data(frame, symbol=walk.symbol, interval=walk.interval,
                                  start=walk.period_start, end=walk.period_end,
                                  history=engine.required_history(walk.model))
        forecasts, training = engine.train_forecasts(bars, walk.model, walk.seed)
    except Exception as error:  # noqa: BLE001 - a cell's failure is data, not a crash
        return _timed(failed_results(walk, error, total_s=time.perf_counter() - began), began)
    trained = time.perf_counter() - began
    results = []
    for cell in walk.cells:
        replayed = time.perf_counter()
        try:
            report, returns = engine.replay(bars, forecasts, walk.model, cell.trading, broker)
        except Exception as error:  # noqa: BLE001
            results += failed_results(walk, error, [cell], training["train_s"],
                                      trained + time.perf_counter() - replayed)
            continue
        results.append({"key": cell.key, "status": "ok", "error": "", "report": report,
                        "returns": returns, "train_s": training["train_s"],
                        "total_s": trained + time.perf_counter() - replayed})
    return _timed(results, began)


def _timed(results, began):
    walk_s = time.perf_counter() - began
    return [{**result, "walk_s": walk_s} for result in results]


def failed_results(walk, error, cells=None, train_s=0.0, total_s=0.0):
    """One `failed` result per cell of `walk` (or of `cells`), the error in one line."""
    message = " ".join(f"{type(error).__name__}: {error}".split())
    results = []
    for cell in walk.cells if cells is None else cells:
        log.warning("cell %s failed: %s", cell.key, message)
        results.append({"key": cell.key, "status": "failed", "error": message,
                        "report": None, "returns": None, "train_s": train_s,
                        "total_s": total_s})
    return results


def thread_environment(threads):
    """The environment variables that cap a worker's backend to `threads` intra-op threads."""
    return {name: str(threads) for name in THREAD_VARIABLES}
