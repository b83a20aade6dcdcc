"""How fast and how lean a sweep runs. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_sweep.py local [--walks 8] [--repeat 2] [--workers 1,2]
    .venv/bin/python benchmarks/bench_sweep.py replay
    .venv/bin/python benchmarks/bench_sweep.py memory [--cells 200] [--restart-every N]
    .venv/bin/python benchmarks/bench_sweep.py layouts [--walks 8] [--repeat 3]
    .venv/bin/python benchmarks/bench_sweep.py all

local: the same sweep (BTCUSDT 1h from ../shared/data, `--walks` walk-forwards of two weeks
    each, 2 trading configs each) through the public `sweep(spec, out, workers=N)`, end to end:
    worker processes started and TensorFlow imported inside the clock, as a user waits for
    them; cells per minute for each `--workers` count, median of `--repeat` interleaved rounds.
    Only public API, so `PYTHONPATH=<another checkout>` measures that checkout the same way.
layouts: the same walk-forwards (`local`'s, each `execute.run_walk_forward` on its own bars)
    run one after another in one process (serial), then in a plain `ProcessPoolExecutor` of
    one process per core (thread variables unset, then capped at cores // processes: the
    shape of the sweep's own workers), on a Dask `LocalCluster()` with no arguments, and on a
    LocalCluster of one process running one task per core in threads (the shape
    `LocalCluster()` picks on 16 cores: 4 processes x 4 threads). Every layout warm
    (TensorFlow imported in each process) before its clock; `--repeat` rounds of every layout
    in turn; median walk-forwards per minute over serial's, whether every layout's results
    equal serial's, and where the time went (median round): seconds inside the task function
    summed over tasks, CPU seconds of the thread running it, and CPU seconds of the worker
    process's other threads meanwhile.
replay: one walk-forward trained in this process (`sweep.cell.train_forecasts`), then replayed
    with 6 trading configs (`sweep.cell.replay`); replay time as a share of the training run.
memory: a long sweep (`--cells` cells, each its own walk-forward: tiny models on synthetic
    AR(1) bars) on 2 local workers; every worker process's RSS sampled every 2 s.
    `--restart-every N` replaces each worker process after N walk-forwards (the sweep's
    `restart_workers_every`; default the sweep's default, 0 never).
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

SCENARIOS = ("local", "layouts", "replay", "memory")
# No dashboard, the scheduler's HTTP routes on a free port (8787 may be taken: Dask warns).
NO_DASHBOARD = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}
MODEL = {"seq_len": 30, "train_window": 500, "retrain_every": 168, "units": [16],
         "epochs": 2}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS + ("all",))
    parser.add_argument("--walks", type=int, default=8, help="walk-forwards in local, layouts")
    parser.add_argument("--cells", type=int, default=200, help="cells in memory")
    parser.add_argument("--repeat", type=int, default=3, help="rounds in local and layouts")
    parser.add_argument("--workers", default="1,2", help="local: worker counts to compare")
    parser.add_argument("--restart-every", type=int, help="walk-forwards per worker process "
                        "in memory (default: the sweep's; 0 never)")
    parser.add_argument("--only", help="layouts: run only the layouts whose name contains one "
                        "of these comma-separated words (serial always runs first)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(machine())
    for scenario in SCENARIOS if args.scenario == "all" else (args.scenario,):
        {"local": local, "layouts": layouts, "replay": replay, "memory": memory}[scenario](args)


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


def local(args):
    from lstm_bt import sweep

    spec = _real_spec(args.walks)
    counts = [int(n) for n in args.workers.split(",")]
    times, cpu = {n: [] for n in counts}, {n: [] for n in counts}
    for _ in range(args.repeat):  # rounds, each worker count once a round: load drifts alike
        for workers in counts:
            with tempfile.TemporaryDirectory() as out:
                before = _cpu_s()
                result, spent = timed(lambda: sweep(spec, out=out, workers=workers))
                cpu[workers].append(_cpu_s() - before)
            times[workers].append(spent)
            assert result.summary["failed"] == 0, result.cells["error"].iloc[0]
    cells = len(result.cells)
    for workers in counts:
        spent = median(times[workers])
        print(f"local, {workers} worker(s): {cells} cells ({args.walks} walk-forwards) in "
              f"{spent:.1f} s (median of {', '.join(f'{x:.1f}' for x in times[workers])}) = "
              f"{cells / spent * 60:.1f} cells/min; CPU of this process and its workers "
              f"{median(cpu[workers]):.1f} s (median of "
              f"{', '.join(f'{x:.1f}' for x in cpu[workers])})")
    print(f"local: load {_load()}")


def layouts(args):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from distributed import Client, LocalCluster

    from lstm_bt.models.backend import usable_cores
    from lstm_bt.sweeps.data import load_sources
    from lstm_bt.sweeps.execute import thread_environment
    from lstm_bt.sweeps.plan import bars_for, plan_sweep
    from lstm_bt.sweeps.spec import load_spec

    checked = load_spec(_real_spec(args.walks))
    sources = load_sources(checked)
    frames = {symbol: frame for symbol, _, frame in sources}
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

    def cluster(**shape):
        @contextmanager
        def make():
            with LocalCluster(processes=True, silence_logs=logging.ERROR, **NO_DASHBOARD,
                              **shape) as cluster, Client(cluster) as client:
                yield client
        return make

    capped = thread_environment(1)
    runs = [
        ("serial: 1 process, backend threads not capped", lambda: pool(1, {})),
        (f"ProcessPoolExecutor({cores}), not capped", lambda: pool(cores, {})),
        (f"ProcessPoolExecutor({cores}), LSTM_BT_THREADS=1 (the sweep's local workers)",
         lambda: pool(cores, capped)),
        ("LocalCluster() defaults, not capped", lambda: dask(cluster())),
        (f"LocalCluster(1 process x {cores} threads), not capped",
         lambda: dask(cluster(n_workers=1, threads_per_worker=cores))),
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
    from lstm_bt.data.synthetic import ar1_returns
    from lstm_bt.sweeps import RESTART_WORKERS_EVERY

    every = RESTART_WORKERS_EVERY if args.restart_every is None else args.restart_every
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "SYNUSDT.csv"
        write_kline_csv(data, ar1_returns(400, seed=5), "1h")
        spec = {"data": {"files": [str(data)], "interval": "1h",
                         "periods": [["2024-01-04", "2024-01-17"]]},
                "run": {"seeds": list(range(args.cells))},
                "model": {"seq_len": 8, "train_window": 60, "retrain_every": 48,
                          "units": [4], "epochs": 1},
                "trading": {"threshold": 0.0}}
        samples, done = [], threading.Event()
        out = Path(folder) / "out"

        def sample():
            while not done.is_set():
                finished = len(list((out / "cells").glob("*.npz"))) if out.exists() else 0
                samples.append((finished, sorted(_children_rss_mb())))
                done.wait(2.0)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result, spent = timed(lambda: sweep(spec, out=out, workers=2,
                                                restart_workers_every=every))
        finally:
            done.set()
            sampler.join()
    step = max(1, args.cells // 10)
    shown, last = [], -step
    for finished, rss in samples:
        if finished >= last + step and rss:
            shown.append(f"{finished}: " + "/".join(f"{x:.0f}" for x in rss))
            last = finished
    late = [max(rss) for finished, rss in samples if rss and finished >= args.cells // 10]
    how = f"restart every {every} walk-forwards" if every else "no restarts"
    print(f"memory: {len(result.cells)} cells (one walk-forward each) in {spent:.0f} s, {how}; "
          f"largest worker RSS after cell {args.cells // 10}: {max(late):.0f} MB; "
          f"worker RSS MB (cells done: worker/worker): {'; '.join(shown)}; load {_load()}")


def _children_rss_mb():
    """RSS of every process whose parent is this one (the sweep's workers), MB."""
    sizes = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and b"spawn_main" in (stat.parent /
                                                                  "cmdline").read_bytes():
                sizes.append(int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20)
        except (OSError, ValueError, IndexError):
            continue
    return sizes


def _cpu_s():
    """CPU seconds of this process and of its children that have exited."""
    import resource

    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load():
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
