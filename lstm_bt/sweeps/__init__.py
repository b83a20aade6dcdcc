"""Robustness sweeps: many walk-forward backtests on Dask, with statistics for many trials.

`sweep(spec, out=...)` runs one backtest per cell (config x symbol x period x seed), each
distinct walk-forward trained once and its forecasts replayed for every trading-param
combination, on a dask.distributed cluster; it writes the report DESIGN names ("Sweeps")
and returns it. Modules: `spec` (read and check the spec), `data` (load the bars once),
`plan` (cells and walk-forwards), `cell` (the only coupling to the backtest engine),
`execute` (Dask), `results` (the resumable directory); then the study's report: `counting`
(how cells count), `report` (the tables and files), `breakdown`, `verdict`, `plots` (PNGs)
and `study_page` (report.html).
"""

import logging
import time
from dataclasses import dataclass

import pandas as pd

from ..errors import InvalidParameter, check_int

__all__ = ["sweep", "SweepResult", "EXIT_SOME_FAILED"]

log = logging.getLogger(__name__)

EXIT_SOME_FAILED = 3


@dataclass
class SweepResult:
    """A finished sweep.

    Attributes:
        cells: one row per backtest (`cells.csv`).
        configs: one row per config (`configs.csv`).
        summary: `summary.json` as a dict.
        out: the output directory.
    """

    cells: pd.DataFrame
    configs: pd.DataFrame
    summary: dict
    out: object = None

    @property
    def failed(self):
        """Number of cells that failed."""
        return self.summary["failed"]

    def describe(self):
        """The summary in plain words (what `lstm-bt sweep` prints)."""
        from .verdict import describe_summary

        return describe_summary(self.summary)


def sweep(spec, out, client=None, workers=None, scheduler=None, data_dir=None, base_url=None,
          quiet=True, restart_workers_every=None):
    """Run a sweep and write its report into `out`.

    Args:
        spec: a path to a TOML spec, or a dict of its tables (`data`, `run`, `model`,
            `trading`); see README "Sweeps".
        out: the output directory. Re-running into the same one computes only the cells
            without a finished result (failed cells are tried again).
        client: a `distributed.Client` to run on (left open). Defaults to `None`.
        workers: processes of the LocalCluster started when no client or scheduler is given,
            one task thread each. Defaults to `None`: the usable cores.
        scheduler: address of a running Dask scheduler, e.g. `"tcp://10.0.0.5:8786"`.
            Defaults to `None`.
        data_dir: kline store directory for `symbols`; under JAX, the workers of the
            cluster the sweep starts also share its compiled programs (`jax_cache/`).
            Defaults to `$LSTM_BT_DATA_DIR` or `./feeds`.
        base_url: Binance REST root. Defaults to `$LSTM_BT_BINANCE_URL` or api.binance.com.
        quiet: hide the progress bar and the dashboard link. Defaults to `True`.
        restart_workers_every: walk-forwards a worker process runs before its Dask nanny
            replaces it with a fresh one, between two tasks, to give back the memory
            TensorFlow keeps; 0 never. Applies to the cluster of `client` and `scheduler`
            too. Defaults to `None`: 50 (`execute.RESTART_WORKERS_EVERY`).

    Returns:
        A `SweepResult`.

    Raises:
        InvalidParameter: a bad spec or argument (the message names it and the fix).
        DataError, BinanceError, NetworkError: the data cannot be loaded.

    Example:
        >>> from lstm_bt import sweep
        >>> result = sweep("sweep.toml", out="sweeps/first")  # doctest: +SKIP
        >>> result.summary["dsr"]  # doctest: +SKIP
    """
    from .data import load_sources
    from .plan import plan_sweep
    from .report import write_report
    from .results import SweepDir
    from .spec import load_spec, spec_to_toml

    began = time.perf_counter()
    workers = _check_target(client, workers, scheduler)
    restart_workers_every = _check_restart(restart_workers_every)
    checked = load_spec(spec)
    directory = SweepDir(out)
    directory.prepare(spec_to_toml(checked.source))
    frames, sources = load_sources(checked, data_dir=data_dir, base_url=base_url,
                                   progress=not quiet)
    configs, cells, walks = plan_sweep(checked, sources, checked.broker)
    done = directory.finished([cell.key for cell in cells])
    todo = []
    for walk in walks:
        missing = [cell for cell in walk.cells if cell.key not in done]
        if missing:
            walk.cells = missing
            todo.append(walk)
    counts = {"walk_forwards": len(todo), "cells_run": sum(len(w.cells) for w in todo),
              "cells_reused": len(done)}
    log.info("sweep: %d cells, %d finished before, %d walk-forwards to train",
             len(cells), len(done), len(todo))
    if todo:
        _run(todo, frames, checked.broker, directory, quiet,
             dict(client=client, workers=workers, scheduler=scheduler,
                  restart_workers_every=restart_workers_every, data_dir=data_dir))
    records = {cell.key: directory.load(cell.key) for cell in cells}
    timing = {"total_s": round(time.perf_counter() - began, 3), **counts}
    table, config_table, summary = write_report(directory.path, checked, configs, cells,
                                                records, timing)
    return SweepResult(cells=table, configs=config_table, summary=summary,
                       out=directory.path)


def _run(walks, frames, broker, directory, quiet, where):
    from tqdm import tqdm

    from .execute import connect, dashboard_link, execute

    total = sum(len(walk.cells) for walk in walks)
    with connect(quiet=quiet, **where) as dask:
        link = dashboard_link(dask)
        with tqdm(total=total, unit="cell", desc="sweep", disable=quiet,
                  dynamic_ncols=True) as bar:
            if link and not quiet:
                bar.write(f"Dask dashboard: {link}")
            failed = 0

            def on_result(results):
                nonlocal failed
                for result in results:
                    directory.store(result)
                    failed += result["status"] != "ok"
                bar.update(len(results))
                bar.set_postfix_str(f"failed {failed}", refresh=True)

            execute(dask, walks, frames, broker, on_result)


def _check_restart(every):
    from .execute import RESTART_WORKERS_EVERY

    if every is None:
        return RESTART_WORKERS_EVERY
    return check_int("restart_workers_every", every,
                     meaning="walk-forwards per worker process, 0: never")


def _check_target(client, workers, scheduler):
    """`workers` as a Python int (or None); `InvalidParameter` unless the three pick one
    place to run."""
    if sum(x is not None for x in (client, workers, scheduler)) > 1:
        raise InvalidParameter("Give at most one of `client`, `workers` and `scheduler` "
                               "(--workers or --scheduler): they pick where the sweep runs.")
    if workers is not None:
        workers = check_int("workers", workers, low=1, meaning="worker processes")
    if scheduler is not None and not str(scheduler).startswith(("tcp://", "tls://",
                                                                "inproc://", "ucx://")):
        raise InvalidParameter(f"Received an invalid value for `scheduler`, expected an "
                               f"address like tcp://HOST:8786, got {scheduler!r}.")
    return workers
