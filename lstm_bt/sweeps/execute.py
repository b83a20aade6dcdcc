"""Run a sweep's walk-forwards on dask.distributed.

One Dask task per walk-forward: it trains once and replays every cell that shares it. Each
task carries the bars it needs (its period and the warm-up before it, cut in the client), so
workers need no disk in common with the client, and a task whose worker died runs again
elsewhere with its data (scattered data would die with the worker holding it). Each task's
result is written by `on_result` as soon as it arrives.

Threads: every worker runs its tasks with `LSTM_BT_THREADS` (and `OMP_NUM_THREADS`,
`TF_NUM_INTRAOP_THREADS`) = the cores it may use divided by its task threads, set in its
environment before TensorFlow is imported, so N single-threaded workers never run more than
N busy threads on N cores. A worker process that dies is restarted by its nanny and its task
runs again (the scheduler's `allowed-failures`); a task raising is retried `RETRIES` times.

Memory: TensorFlow keeps some memory for every model a process trains, so each worker
process is restarted by its nanny after `restart_workers_every` walk-forwards, between two
tasks (`_worker_plugin.RestartEvery`).
"""

import logging
import os
import threading
import time
from contextlib import contextmanager

from ..errors import InvalidParameter, LstmBtError

__all__ = ["run_walk_forward", "bars_for", "connect", "execute", "thread_environment",
           "RETRIES", "RESTART_WORKERS_EVERY", "SCHEDULER_CONFIG", "HOUSEKEEPING_CONFIG"]

log = logging.getLogger(__name__)

RETRIES = 2
# Walk-forwards a worker process runs before its nanny replaces it (memory TensorFlow keeps).
RESTART_WORKERS_EVERY = 50
# A cluster with no worker at all runs nothing: after this long the sweep stops (resumable)
# instead of waiting forever, e.g. for a remote scheduler whose workers were all shut down.
NO_WORKERS_S = 120.0
_POLL_S = 10.0
THREAD_VARIABLES = ("LSTM_BT_THREADS", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
# A walk-forward runs for seconds to hours: a worker should hold only the task it runs.
# Dask's default (1.1) lets a 1-thread worker queue a second task, so the first worker up
# can take two while another idles; tasks are queued on the scheduler instead.
SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0}
# Dask's housekeeping, slowed for tasks of seconds. At its defaults each worker's event loop
# samples the task thread's stack every 10 ms (the statistical profiler), checks its own
# latency every 20 ms, its memory every 100 ms and the system every 500 ms: on 2 busy cores
# that CPU, and the GIL the loop takes from the task thread, made each walk-forward ~9 %
# slower than in a plain process pool (12 of 1.2 s: 16.1 s inside the tasks vs 14.1 s; 14.8 s
# with these; benchmarks/README.md, "Sweeps on Dask"). The dashboard keeps all but Profile.
HOUSEKEEPING_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def run_walk_forward(frame, walk, broker):
    """On a worker: cut the bars, train the walk-forward once, replay each of its cells.

    Args:
        frame: the bars of the walk-forward (`bars_for`): warm-up history, then its period.
        walk: a `plan.TrainingTask` (only the cells still to compute).
        broker: `cash`, `commission`, `slippage`.

    Returns:
        One result dict per cell of `walk`: `key`, `status` (`ok`/`failed`), `error`,
        `report` (None when failed), `returns` (per-bar, None when failed), `train_s`,
        `total_s` (training plus this cell's replay).
    """
    from ..run.backtest_data import load_backtest_data
    from . import cell as engine

    began = time.perf_counter()
    try:
        bars = load_backtest_data(frame, symbol=walk.symbol, interval=walk.interval,
                                  start=walk.period_start, end=walk.period_end,
                                  history=engine.required_history(walk.model))
        forecasts, training = engine.train_forecasts(bars, walk.model, walk.seed)
    except Exception as error:  # noqa: BLE001 - a cell's failure is data, not a crash
        spent = time.perf_counter() - began
        return [_failed(cell, error, 0.0, spent) for cell in walk.cells]
    trained = time.perf_counter() - began
    results = []
    for cell in walk.cells:
        replayed = time.perf_counter()
        try:
            report, returns = engine.replay(bars, forecasts, walk.model, cell.trading, broker)
        except Exception as error:  # noqa: BLE001
            results.append(_failed(cell, error, training["train_s"],
                                   trained + time.perf_counter() - replayed))
            continue
        results.append({"key": cell.key, "status": "ok", "error": "", "report": report,
                        "returns": returns, "train_s": training["train_s"],
                        "total_s": trained + time.perf_counter() - replayed})
    return results


def _as_finished(client, pending):
    """Yield each future as it finishes; raise `LstmBtError` when the cluster has had no
    worker for `NO_WORKERS_S` seconds (nothing could ever finish)."""
    from distributed import wait

    pending, idle_since = set(pending), None
    while pending:
        try:
            done, pending = wait(pending, timeout=_POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = ()
        yield from done
        if done or client.scheduler_info().get("workers"):
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since >= NO_WORKERS_S:
            raise LstmBtError(
                f"the Dask cluster has had no worker for {NO_WORKERS_S:.0f} s, so no cell can "
                f"run; start workers (`dask worker tcp://SCHEDULER:8786`) or run without "
                f"--scheduler. Finished cells are kept: run the same command again to resume."
            )


def bars_for(frame, walk):
    """The rows of `frame` a walk-forward can use: its warm-up history, then its period."""
    import pandas as pd

    from . import cell as engine

    end = frame.index.searchsorted(pd.Timestamp(walk.period_end))
    first = frame.index.searchsorted(pd.Timestamp(walk.period_start))
    return frame.iloc[max(0, first - engine.required_history(walk.model)):end]


def _failed(cell, error, train_s, total_s):
    message = " ".join(f"{type(error).__name__}: {error}".split())
    log.warning("cell %s failed: %s", cell.key, message)
    return {"key": cell.key, "status": "failed", "error": message, "report": None,
            "returns": None, "train_s": train_s, "total_s": total_s}


def thread_environment(threads):
    """The environment variables that cap a worker's backend to `threads` intra-op threads."""
    return {name: str(threads) for name in THREAD_VARIABLES}


@contextmanager
def connect(client=None, workers=None, scheduler=None, quiet=True,
            restart_workers_every=RESTART_WORKERS_EVERY, data_dir=None):
    """A dask client to run on: the one given, one to `scheduler`, or a new LocalCluster.

    Args:
        client: an existing `distributed.Client` (left open afterwards).
        workers: worker processes of the LocalCluster, one task thread each. Defaults to the
            usable cores.
        scheduler: address of a running scheduler, e.g. `"tcp://10.0.0.5:8786"`.
        quiet: hide the LocalCluster's own logs. Defaults to `True`.
        restart_workers_every: walk-forwards each worker process runs before its nanny
            replaces it with a fresh one; 0 never. Defaults to `RESTART_WORKERS_EVERY`.
        data_dir: the data directory whose JAX compilation cache the LocalCluster's workers
            share (`models.compile_cache`). Defaults to `None`: the default one.

    Yields:
        A connected `distributed.Client`, with the worker plugins registered.
    """
    from distributed import Client

    from ..models.backend import usable_cores
    from ..models.compile_cache import compile_cache_environment
    from ._cluster_logs import log_level, restart_notes
    from ._worker_plugin import quiet_exit

    if client is not None:
        _register_plugins(client, restart_workers_every)
        with restart_notes(client, wait=True):
            yield client
        return
    if scheduler is not None:
        try:
            own = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as error:
            raise InvalidParameter(
                f"Cannot reach the Dask scheduler {scheduler!r} ({error}); start one with "
                "`dask scheduler` and give its tcp://HOST:PORT.") from None
        with own, restart_notes(own):
            _register_plugins(own, restart_workers_every)
            yield own
        return
    import dask
    from distributed import LocalCluster

    cores = usable_cores()
    workers = workers or cores
    threads = max(1, cores // workers)
    env = {**thread_environment(threads), **compile_cache_environment(data_dir)}
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"  # TensorFlow's start-up banner, once per worker
    level = logging.ERROR if quiet else logging.WARNING
    # As `silence_logs` intends, also when `distributed` logs through the application's handlers.
    with log_level(level):
        # The housekeeping also as the nannies' `config`: a nanny starts each replacement
        # worker with it, where this block's settings are undone in place once it exits.
        with dask.config.set({**SCHEDULER_CONFIG, **HOUSEKEEPING_CONFIG}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   env=env, dashboard_address=":0", config=HOUSEKEEPING_CONFIG,
                                   silence_logs=level)
        try:
            # Closed only once the restarts the sweep set off are over: a nanny closed while
            # it replaces its worker starts the fresh process after closing (Dask's
            # Nanny.restart does not check), a stray that waits for the gone scheduler until
            # the interpreter exits (`_cluster_logs`; `_lost_worker_grace` for the other
            # way a nanny was closed under a restart).
            with _lost_worker_grace(), Client(cluster) as own:
                with restart_notes(own, wait=True):
                    _register_plugins(own, restart_workers_every)
                    _log_layout(own)
                    yield own
                # The workers close next: a heartbeat cut short is an error with a traceback.
                own.run(quiet_exit)
        finally:
            with log_level(logging.CRITICAL):  # the tracebacks of comms closing under it
                cluster.close()


# How long the sweep's own LocalCluster waits for a worker that left the scheduler to come
# back before it closes that worker's nanny (Dask's `distributed.deploy.lost-worker-timeout`,
# 15 s, meant for a lost batch job). A planned restart takes longer on a busy machine (the
# nanny kills a process that imported TensorFlow after 4 s, then a fresh one starts: over 15 s
# at load 7 on 2 cores); the nanny closed in the middle of it then starts a worker that no
# nanny and no cluster close stops, a stray process until the interpreter exits.
LOST_WORKER_GRACE_S = 600.0
_grace_lock = threading.Lock()
_grace = {"open": 0, "before": None}


@contextmanager
def _lost_worker_grace():
    """Raise `distributed.deploy.lost-worker-timeout` to `LOST_WORKER_GRACE_S` for the block
    (never lower it); the value before the first of overlapping blocks comes back after the
    last. Dask reads it when a worker leaves, so it must hold while the sweep runs."""
    import dask
    from dask.utils import parse_timedelta

    key = "distributed.deploy.lost-worker-timeout"
    with _grace_lock:
        if not _grace["open"]:
            _grace["before"] = dask.config.get(key)
            if parse_timedelta(_grace["before"]) < LOST_WORKER_GRACE_S:
                dask.config.set({key: f"{LOST_WORKER_GRACE_S}s"})
        _grace["open"] += 1
    try:
        yield
    finally:
        with _grace_lock:
            _grace["open"] -= 1
            if not _grace["open"]:
                dask.config.set({key: _grace["before"]})


def _log_layout(client):
    """Log what the LocalCluster really runs: processes, task threads, backend threads."""
    if not log.isEnabledFor(logging.INFO):  # three round trips to every worker, for one line
        return
    pids = client.run(os.getpid)
    threads = sorted({info["nthreads"] for info in client.scheduler_info()["workers"].values()})
    capped = sorted(set(client.run(_backend_threads_setting).values()), key=str)
    log.info("local Dask cluster: %d worker processes, %s task thread(s) each, "
             "LSTM_BT_THREADS=%s", len(set(pids.values())), "/".join(map(str, threads)),
             "/".join(map(str, capped)))


def _backend_threads_setting():
    return os.environ.get("LSTM_BT_THREADS")


def _register_plugins(client, restart_workers_every):
    from ._worker_plugin import CapThreads, RestartEvery

    client.register_plugin(CapThreads())
    # Always registered, so 0 also replaces the count an earlier sweep left on the cluster.
    client.register_plugin(RestartEvery(restart_workers_every))


def dashboard_link(client):
    """The Dask dashboard's address, or None when the scheduler runs none."""
    try:
        services = client.scheduler_info().get("services", {})
    except (OSError, TimeoutError):
        return None
    return client.dashboard_link if "dashboard" in services else None


def execute(client, walks, frames, broker, on_result):
    """Run `walks` on `client`, calling `on_result(results)` as each one finishes.

    Args:
        client: a connected `distributed.Client`.
        walks: the `TrainingTask`s to run (each with only the cells still to compute).
        frames: {symbol: kline frame} for every symbol the walks use; each task gets the
            slice `bars_for` cuts.
        broker: `cash`, `commission`, `slippage`.
        on_result: called in the client with each walk-forward's list of cell results; a
            walk-forward whose task itself failed (e.g. a worker killed too often) gets one
            failed result per cell.
    """
    from ._worker_plugin import WALK_FORWARD_PREFIX

    futures = {}
    for walk in walks:
        bars = bars_for(frames[walk.symbol], walk)
        future = client.submit(run_walk_forward, bars, walk, broker,
                               key=f"{WALK_FORWARD_PREFIX}{walk.key}", retries=RETRIES, pure=False)
        futures[future.key] = (future, walk)
    try:
        for future in _as_finished(client, [future for future, _ in futures.values()]):
            walk = futures[future.key][1]
            try:
                results = future.result()
            except Exception as error:  # noqa: BLE001 - the task's own failure, recorded
                results = [_failed(cell, error, 0.0, 0.0) for cell in walk.cells]
            on_result(results)
            future.release()
    finally:
        for future, _ in futures.values():
            if not future.done():
                future.cancel()
