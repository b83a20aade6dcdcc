"""How fast and how lean a sweep runs on Dask. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_sweep.py throughput [--walks 8]
    .venv/bin/python benchmarks/bench_sweep.py replay
    .venv/bin/python benchmarks/bench_sweep.py memory [--cells 200] [--restart-every N]
                                                      [--lifetime SECONDS]
    .venv/bin/python benchmarks/bench_sweep.py layouts [--walks 8] [--repeat 3]
    .venv/bin/python benchmarks/bench_sweep.py housekeeping [--walks 8] [--repeat 3]
    .venv/bin/python benchmarks/bench_sweep.py all

throughput: the same sweep (BTCUSDT 1h from ../shared/data, `--walks` walk-forwards of two
    weeks each, 2 trading configs each) on a LocalCluster of 1 worker, then of 2, each worker
    one task thread with the thread variables at 1 (`LSTM_BT_THREADS`, `OMP_NUM_THREADS`,
    `TF_NUM_INTRAOP_THREADS`) and the sweep's Dask settings, workers warmed (TensorFlow
    imported) before the clock starts;
    cells per minute and the ratio.
layouts: the same walk-forwards (`throughput`'s, each `execute.run_walk_forward` on its own
    bars) run one after another in one process (serial), then in a plain
    `ProcessPoolExecutor` of one process per core (thread variables unset, then capped at
    cores // processes), on a Dask `LocalCluster()` with no arguments, on a LocalCluster of
    one process running one task per core in threads (the shape `LocalCluster()` picks on
    16 cores: 4 processes x 4 threads), and on the sweep's own cluster (`execute.connect`:
    one single-threaded process per core, `LSTM_BT_THREADS` capped). Every layout warm
    (TensorFlow imported in each process) before its clock; `--repeat` rounds of every layout
    in turn; median walk-forwards per minute over serial's, whether every layout's results
    equal serial's, and where the time went (median round): seconds inside the task function
    summed over tasks, CPU seconds of the thread running it, and CPU seconds of the worker
    process's other threads (Dask's event loop, TensorFlow's) meanwhile. `the sweep's cluster`
    is run twice: as `connect` makes it, and with Dask's default housekeeping (as before
    `HOUSEKEEPING_CONFIG`).
housekeeping: as layouts, the sweep's cluster's shape (2 x 1 thread, capped) with Dask's
    default housekeeping, with each setting of `execute.HOUSEKEEPING_CONFIG` alone, and with
    all of them, against the capped process pool.
replay: one walk-forward trained in this process (`sweep.cell.train_forecasts`), then replayed
    with 6 trading configs (`sweep.cell.replay`); replay time as a share of the training run.
memory: a long sweep (`--cells` cells, each its own walk-forward: tiny models on synthetic
    AR(1) bars) on 2 workers; every worker's RSS sampled every 2 s. `--restart-every N`
    restarts each worker after N walk-forwards (the sweep's `restart_workers_every`; default
    the sweep's default, 0 never); `--lifetime S` instead restarts workers after S seconds
    (Dask's `lifetime`, given as worker arguments so restarted workers keep it), to compare.
"""

import argparse
import logging
import os
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from _common import REFERENCE_CSV, machine, median, timed

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*missing 1h bars.*")

SCENARIOS = ("throughput", "layouts", "housekeeping", "replay", "memory")
# No dashboard, the scheduler's HTTP routes on a free port (8787 may be taken: Dask warns).
NO_DASHBOARD = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}
MODEL = {"seq_len": 30, "train_window": 500, "retrain_every": 168, "units": [16],
         "epochs": 2}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS + ("all",))
    parser.add_argument("--walks", type=int, default=8,
                        help="walk-forwards in throughput, layouts and housekeeping")
    parser.add_argument("--cells", type=int, default=200, help="cells in memory")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds in layouts and housekeeping")
    parser.add_argument("--restart-every", type=int, help="walk-forwards per worker process "
                        "in memory (default: the sweep's; 0 never)")
    parser.add_argument("--lifetime", type=float, help="worker lifetime in memory, seconds")
    parser.add_argument("--only", help="layouts: run only the layouts whose name contains one "
                        "of these comma-separated words (serial always runs first)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(machine())
    for scenario in SCENARIOS if args.scenario == "all" else (args.scenario,):
        {"throughput": throughput, "layouts": layouts, "housekeeping": layouts,
         "replay": replay, "memory": memory}[scenario](args)


def _cluster(workers, lifetime=None):
    import dask
    from distributed import Client, LocalCluster

    from lstm_bt.sweeps.execute import HOUSEKEEPING_CONFIG, SCHEDULER_CONFIG, thread_environment

    # The sweep's own cluster's settings (`execute.connect`). As worker arguments, not
    # `dask.config.set(distributed.worker.lifetime...)`: the nanny
    # keeps a reference to the config, the `with` block's exit undoes it in place, so a
    # restarted worker had no lifetime (one restart each, then none; measured).
    restarts = {"lifetime": f"{lifetime}s", "lifetime_stagger": "2s",
                "lifetime_restart": True} if lifetime else {}
    with dask.config.set({**SCHEDULER_CONFIG, **HOUSEKEEPING_CONFIG}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               env={**thread_environment(1), "TF_CPP_MIN_LOG_LEVEL": "3"},
                               config=HOUSEKEEPING_CONFIG, silence_logs=logging.ERROR,
                               **NO_DASHBOARD, **restarts)
    client = Client(cluster)
    client.run(_warm)
    return cluster, client


def _warm():
    import keras  # noqa: F401 - import TensorFlow before the clock starts

    return os.getpid()


def _real_spec(walks):
    periods = [[f"2024-{month:02d}-01", f"2024-{month:02d}-15"] for month in range(1, 13)]
    seeds = max(1, walks // len(periods)) if walks > len(periods) else 1
    return {
        "data": {"files": [str(REFERENCE_CSV)], "interval": "1h",
                 "periods": periods[:min(walks, len(periods))]},
        "run": {"seeds": list(range(seeds))},
        "model": MODEL,
        "trading": {"threshold": [0.0, 0.002]},
    }


def throughput(args):
    from lstm_bt import sweep

    spec = _real_spec(args.walks)
    rates = {}
    for workers in (1, 2):
        cluster, client = _cluster(workers)
        try:
            with tempfile.TemporaryDirectory() as out:
                result, spent = timed(lambda: sweep(spec, out=out, client=client))
        finally:
            client.close()
            cluster.close()
        cells = len(result.cells)
        rates[workers] = cells / spent * 60
        print(f"throughput, {workers} worker(s): {cells} cells "
              f"({result.summary['timing']['walk_forwards']} walk-forwards) in {spent:.1f} s "
              f"= {rates[workers]:.1f} cells/min; load {_load()}")
    print(f"throughput: 2 workers / 1 worker = {rates[2] / rates[1]:.2f}x")


def layouts(args):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from dask import config as dask_config
    from distributed import Client, LocalCluster

    from lstm_bt.models.backend import usable_cores
    from lstm_bt.sweeps.data import load_sources
    from lstm_bt.sweeps.execute import (HOUSEKEEPING_CONFIG, SCHEDULER_CONFIG, bars_for,
                                        connect, thread_environment)
    from lstm_bt.sweeps.plan import plan_sweep
    from lstm_bt.sweeps.spec import load_spec

    checked = load_spec(_real_spec(args.walks))
    frames, sources = load_sources(checked)
    walks = plan_sweep(checked, sources, checked.broker)[2]
    work = [(bars_for(frames[walk.symbol], walk), walk, checked.broker) for walk in walks]
    cores = usable_cores()
    spawn = multiprocessing.get_context("spawn")  # no fork of this process's threads

    def pool(processes, env):
        with ProcessPoolExecutor(processes, mp_context=spawn, initializer=_pool_start,
                                 initargs=(env, spawn.Barrier(processes))) as executor:
            started = set(executor.map(_hold, range(processes)))
            assert len(started) == processes, "every pool process started and warm"
            return timed(lambda: list(executor.map(_timed_walk_forward, *zip(*work))))

    def dask(make):
        with make() as client:
            client.run(_warm)
            return timed(lambda: _submit_all(client, _timed_walk_forward, work))

    def local(config=None, **shape):
        @contextmanager
        def make():
            with dask_config.set(config or {}), \
                    LocalCluster(processes=True, silence_logs=logging.ERROR,
                                 **NO_DASHBOARD, **shape) as cluster, \
                    Client(cluster) as client:
                yield client
        return make

    capped = thread_environment(1)

    def sweep_shape(config):
        return dask(local({**SCHEDULER_CONFIG, **config}, n_workers=cores,
                          threads_per_worker=1, env=capped))

    if args.scenario == "housekeeping":
        runs = [(f"ProcessPoolExecutor({cores}), LSTM_BT_THREADS=1",
                 lambda: pool(cores, capped)),
                ("Dask's default housekeeping", lambda: sweep_shape({}))]
        runs += [(f"{key} = {value} alone", lambda key=key, value=value:
                  sweep_shape({key: value})) for key, value in HOUSEKEEPING_CONFIG.items()]
        runs += [("all of HOUSEKEEPING_CONFIG", lambda: sweep_shape(HOUSEKEEPING_CONFIG))]
        return _compare(args, work, runs)
    jax_cache = {"JAX_COMPILATION_CACHE_DIR": tempfile.mkdtemp(prefix="jax-cache-"),
                 "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}

    def cached_shape():
        return dask(local({**SCHEDULER_CONFIG, **HOUSEKEEPING_CONFIG}, n_workers=cores,
                          threads_per_worker=1, env={**capped, **jax_cache}))

    runs = [
        ("serial: 1 process, backend threads not capped", lambda: pool(1, {})),
        (f"ProcessPoolExecutor({cores}), not capped", lambda: pool(cores, {})),
        (f"ProcessPoolExecutor({cores}), LSTM_BT_THREADS=1", lambda: pool(cores, capped)),
        ("LocalCluster() defaults, not capped", lambda: dask(local())),
        (f"LocalCluster(1 process x {cores} threads), not capped",
         lambda: dask(local(n_workers=1, threads_per_worker=cores))),
        (f"the sweep's cluster ({cores} x 1 thread, LSTM_BT_THREADS=1)",
         lambda: dask(lambda: connect(quiet=True))),
        ("same, Dask's default housekeeping (the sweep's cluster before)",
         lambda: sweep_shape({})),
        ("the sweep's cluster, JAX's compilation cache on disk, empty", cached_shape),
        ("same, the cache filled by the run before", cached_shape),
    ]
    if args.only:
        words = args.only.split(",")
        runs = runs[:1] + [run for run in runs[1:] if any(word in run[0] for word in words)]
    _compare(args, work, runs)


def _compare(args, work, runs):
    """Run each of `runs` once a round, `--repeat` rounds; print medians against the first."""
    times, inside, outcomes = {name: [] for name, _ in runs}, {name: [] for name, _ in runs}, {}
    for _ in range(args.repeat):  # rounds, each layout once a round: load drifts alike
        for name, run in runs:
            timed_results, spent = run()
            times[name].append(spent)
            inside[name].append([sum(x) for x in zip(*(spent for _, spent in timed_results))])
            outcomes[name] = [[cell["report"]["metrics"]["sharpe"] if cell["report"] else
                               f"failed: {cell['error'][:60]}" for cell in walk]
                              for walk, _ in timed_results]
    first = median(times[runs[0][0]])
    for name, _ in runs:
        spent = median(times[name])
        middle = min(range(len(times[name])), key=lambda i: abs(times[name][i] - spent))
        wall, task_cpu, other_cpu = inside[name][middle]
        print(f"{args.scenario}, {name}: {len(work)} walk-forwards in {spent:.1f} s (median "
              f"of {', '.join(f'{x:.1f}' for x in times[name])}) = "
              f"{len(work) / spent * 60:.1f}/min, {first / spent:.2f}x the first, results "
              f"{'equal' if outcomes[name] == outcomes[runs[0][0]] else 'DIFFERENT'}"
              f"{_failures(outcomes[name])}; inside "
              f"the tasks {wall:.2f} s, task thread CPU {task_cpu:.2f} s, other threads "
              f"{other_cpu:.2f} s")
    print(f"{args.scenario}: load {_load()}")


def _failures(outcome):
    """`, N cells failed (the first error)` or nothing."""
    failed = [cell for walk in outcome for cell in walk if isinstance(cell, str)]
    return f", {len(failed)} cells FAILED ({failed[0]})" if failed else ""


def _timed_walk_forward(frame, walk, broker):
    """`run_walk_forward`, and (seconds, its thread's CPU seconds, the other threads')."""
    from lstm_bt.sweeps.execute import run_walk_forward

    began, thread, process = time.perf_counter(), time.thread_time(), time.process_time()
    results = run_walk_forward(frame, walk, broker)
    thread = time.thread_time() - thread
    return results, (time.perf_counter() - began, thread,
                     time.process_time() - process - thread)


def _submit_all(client, function, work):
    return client.gather([client.submit(function, *item, pure=False) for item in work])


_barrier = None


def _pool_start(env, barrier):
    global _barrier
    _barrier = barrier
    os.environ.update(env)
    _warm()


def _hold(_):
    """Wait until every pool process holds one of these: all started, all warm."""
    _barrier.wait(timeout=300)
    return os.getpid()


def replay(args):
    del args
    from lstm_bt.run.backtest_data import load_backtest_data
    from lstm_bt.sweeps import cell

    model = {**MODEL, "units": tuple(MODEL["units"]), "train_window": 1000, "epochs": 3}
    bars = load_backtest_data(str(REFERENCE_CSV), start="2024-03-01", end="2024-04-01",
                              history=cell.required_history(model))
    forecasts, training = cell.train_forecasts(bars, model, seed=0)
    broker = {"cash": 10_000.0, "commission": 0.001, "slippage": 0.0}
    spent = []
    for threshold in (0.0, 0.001, 0.002):
        for sizing in ("all_in", "proportional"):
            began = time.perf_counter()
            cell.replay(bars, forecasts, model, {"threshold": threshold, "sizing": sizing},
                        broker)
            spent.append(time.perf_counter() - began)
    print(f"replay: training the walk-forward ({bars.bars} bars, {training['retrains']} fits) "
          f"{training['total_s']:.2f} s (fitting {training['train_s']:.2f} s); one replay "
          f"median {median(spent):.3f} s (min {min(spent):.3f}, max {max(spent):.3f}) = "
          f"{100 * median(spent) / training['total_s']:.1f} % of training; load {_load()}")


def memory(args):
    from lstm_bt import sweep
    from lstm_bt.binance.files import write_kline_csv
    from lstm_bt.sweeps.execute import RESTART_WORKERS_EVERY
    from lstm_bt.data.synthetic import ar1_returns

    every = RESTART_WORKERS_EVERY if args.restart_every is None else args.restart_every
    every = 0 if args.lifetime else every
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "SYNUSDT.csv"
        write_kline_csv(data, ar1_returns(400, seed=5), "1h")
        spec = {"data": {"files": [str(data)], "interval": "1h",
                         "periods": [["2024-01-04", "2024-01-17"]]},
                "run": {"seeds": list(range(args.cells))},
                "model": {"seq_len": 8, "train_window": 60, "retrain_every": 48,
                          "units": [4], "epochs": 1},
                "trading": {"threshold": 0.0}}
        cluster, client = _cluster(2, lifetime=args.lifetime)
        samples, done = [], threading.Event()
        out = Path(folder) / "out"

        def sample():
            while not done.is_set():
                finished = len(list((out / "cells").glob("*.npz"))) if out.exists() else 0
                try:
                    rss = client.run(_rss_mb)
                except Exception:  # noqa: BLE001 - a worker restarting mid-sample
                    rss = {}
                samples.append((finished, sorted(rss.values())))
                done.wait(2.0)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result, spent = timed(lambda: sweep(spec, out=out, client=client,
                                                restart_workers_every=every))
        finally:
            done.set()
            sampler.join()
            client.close()
            cluster.close()
    step = max(1, args.cells // 10)
    shown, last = [], -step
    for finished, rss in samples:
        if finished >= last + step and rss:
            shown.append(f"{finished}: " + "/".join(f"{x:.0f}" for x in rss))
            last = finished
    late = [max(rss) for finished, rss in samples if rss and finished >= args.cells // 10]
    how = (f"worker lifetime {args.lifetime:.0f} s" if args.lifetime else
           f"restart every {every} walk-forwards" if every else "no restarts")
    print(f"memory: {len(result.cells)} cells (one walk-forward each) in {spent:.0f} s, {how}; "
          f"largest worker RSS after cell {args.cells // 10}: {max(late):.0f} MB; "
          f"worker RSS MB (cells done: worker/worker): {'; '.join(shown)}; load {_load()}")


def _rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load():
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
