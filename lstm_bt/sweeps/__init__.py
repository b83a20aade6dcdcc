"""Robustness sweeps: many walk-forward backtests, with statistics for many trials.

Flow: `spec` -> `data` -> `plan` -> `execute` tasks (in `local` processes or `on_dask`), each
through `cell` (the engine) -> `results` (resumable) -> the study: `counting` (how cells
count), `report` (tables and files), `breakdown`, `verdict`, `plots`, `study_page`.
`estimate`: the cost model of a walk-forward, for `--dry-run` and the ETA of `progress`.
"""

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass

# No NumPy, pandas or tqdm here: a worker imports this before `local._start` caps threads.
from ..errors import InvalidParameter, check_int
from .estimate import estimate_sweep

__all__ = ["sweep", "estimate_sweep", "SweepResult", "EXIT_SOME_FAILED", "RESTART_WORKERS_EVERY"]

log = logging.getLogger(__name__)

EXIT_SOME_FAILED = 3
RESTART_WORKERS_EVERY = 50


@dataclass
class SweepResult:
    """A finished sweep.

    Attributes:
        cells: one row per backtest (`cells.csv`).
        configs: one row per config (`configs.csv`).
        summary: `summary.json` as a dict.
        out: the output directory.
    """

    cells: "pandas.DataFrame"
    configs: "pandas.DataFrame"
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
          quiet=True, restart_workers_every=None, max_cells=None):
    """Run a sweep and write its report into `out`.

    Args:
        spec: a path to a TOML spec, or a dict of its tables (`data`, `run`, `model`,
            `trading`).
        out: the output directory. Re-running into the same one computes only the cells
            without a finished result (failed cells are tried again).
        client: a `distributed.Client` to run on (left open). Defaults to `None`.
        workers: local worker processes, when no client or scheduler is given. Defaults to
            `None`: the usable cores.
        scheduler: address of a running Dask scheduler, e.g. `"tcp://10.0.0.5:8786"`.
            Defaults to `None`.
        data_dir: kline store directory for `symbols`; under JAX, local workers also share
            its compiled programs (`jax_cache/`). Defaults to `$LSTM_BT_DATA_DIR` or `./feeds`.
        base_url: Binance REST root. Defaults to `$LSTM_BT_BINANCE_URL` or api.binance.com.
        quiet: hide the progress bar and the dashboard link. Defaults to `True`.
        restart_workers_every: walk-forwards a local worker process runs before a fresh one
            replaces it, giving back the memory TensorFlow keeps; 0 never. Defaults to `None`:
            `RESTART_WORKERS_EVERY`.
        max_cells: the most cells the spec may make, counted before any is planned
            (`--max-cells`). Defaults to `None`: `spec.MAX_CELLS` (100,000).

    Returns:
        A `SweepResult`.

    Raises:
        InvalidParameter: a bad spec or argument (the message names it and the fix).
        RunDirInUse: another run (a sweep or a backtest) is writing into `out`.
        DataError, BinanceError, NetworkError: the data cannot be loaded.

    Example:
        >>> from lstm_bt import sweep
        >>> result = sweep("sweep.toml", out="sweeps/first")  # doctest: +SKIP
        >>> result.summary["dsr"]  # doctest: +SKIP
    """
    from ..run.run_dir import RunDirClaim
    from .spec import load_spec

    began = time.perf_counter()
    workers = _check_target(client, workers, scheduler)
    restart_workers_every = _check_restart(restart_workers_every, client, scheduler)
    checked = load_spec(spec, max_cells=max_cells)
    # One run at a time writes into `out` (a sweep or a backtest): held until the report is
    # written, or `RunDirInUse` at once.
    with RunDirClaim(out).acquire():
        return _sweep(checked, out, began, client, workers, scheduler, data_dir, base_url,
                      quiet, restart_workers_every)


def _sweep(checked, out, began, client, workers, scheduler, data_dir, base_url, quiet,
           restart_workers_every):
    """`sweep`'s work, once its arguments are checked and `out` is held."""
    from .data import load_sources
    from .plan import bars_for, plan_sweep
    from .report import write_report
    from .results import SweepDir
    from .spec import spec_to_toml

    directory = SweepDir(out)
    directory.prepare(spec_to_toml(checked.source))
    sources = load_sources(checked, data_dir=data_dir, base_url=base_url, progress=not quiet)
    configs, cells, walks = plan_sweep(checked, sources, checked.broker)
    done = directory.finished([cell.key for cell in cells])
    frames = {symbol: frame for symbol, _, frame in sources}
    work = []
    for walk in walks:
        walk.cells = [cell for cell in walk.cells if cell.key not in done]
        if walk.cells:
            work.append((bars_for(frames[walk.symbol], walk), walk, checked.broker))
    counts = {"walk_forwards": len(work), "cells_run": sum(len(w.cells) for _, w, _ in work),
              "cells_reused": len(done)}
    log.info("sweep: %d cells, %d finished before, %d walk-forwards to train",
             len(cells), len(done), len(work))
    if work:
        with _storing(work, directory, quiet) as on_result:
            if client is None and scheduler is None:
                from .local import run_local

                options = _local_options(workers, restart_workers_every, data_dir)
                on_result.progress.slots = options["workers"]
                on_result.progress.restart_every = restart_workers_every
                run_local(work, on_result, **options)
            else:
                from .on_dask import connect, dashboard_link, run_on_dask

                with connect(client, scheduler) as dask:
                    on_result.progress.slots = max(1, sum(dask.nthreads().values()))
                    link = dashboard_link(dask)
                    if link and not quiet:
                        from tqdm import tqdm

                        tqdm.write(f"Dask dashboard: {link}")
                    run_on_dask(dask, work, on_result)
    records = {cell.key: directory.load(cell.key) for cell in cells}
    timing = {"total_s": round(time.perf_counter() - began, 3), **counts,
              "all_runs": directory.all_runs(counts)}
    table, config_table, summary = write_report(directory.path, checked, configs, cells,
                                                records, timing)
    return SweepResult(cells=table, configs=config_table, summary=summary,
                       out=directory.path)


@contextmanager
def _storing(work, directory, quiet):
    """A callback that stores each walk-forward's cell results, under a progress bar counting
    walk-forwards (`progress.WalkProgress`: its `slots` are set once known)."""
    from .progress import WalkProgress

    with WalkProgress(work, quiet) as progress:

        def on_result(results):
            for result in results:
                directory.store(result)
            progress.update(results)

        on_result.progress = progress
        yield on_result


def _local_options(workers, restart_every, data_dir):
    """`run_local`'s options: one single-threaded backend per process by default."""
    from ..models.backend import usable_cores
    from ..models.compile_cache import compile_cache_environment
    from .execute import thread_environment

    cores = usable_cores()
    workers = workers or cores
    env = {**thread_environment(max(1, cores // workers)),
           **compile_cache_environment(data_dir)}
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"  # TensorFlow's start-up banner, once per process
    log.info("sweep: %d local worker processes, LSTM_BT_THREADS=%s, a fresh process every %s "
             "walk-forwards", workers, env["LSTM_BT_THREADS"], restart_every or "infinite")
    return {"workers": workers, "restart_every": restart_every, "env": env}


def _check_target(client, workers, scheduler):
    """`workers` as a Python int or None; refuses more than one place to run."""
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


def _check_restart(every, client, scheduler):
    if every is None:
        return RESTART_WORKERS_EVERY
    if client is not None or scheduler is not None:
        raise InvalidParameter(
            "`restart_workers_every` (--restart-workers-every) applies to local worker "
            "processes; a Dask cluster's workers are its own (`dask worker --lifetime`).")
    return check_int("restart_workers_every", every,
                     meaning="walk-forwards per worker process, 0: never")
