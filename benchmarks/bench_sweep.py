"""How fast and how lean a sweep runs on Dask. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_sweep.py throughput [--walks 8]
    .venv/bin/python benchmarks/bench_sweep.py replay
    .venv/bin/python benchmarks/bench_sweep.py memory [--cells 200] [--lifetime SECONDS]
    .venv/bin/python benchmarks/bench_sweep.py all

throughput: the same sweep (BTCUSDT 1h from ../shared/data, `--walks` walk-forwards of two
    weeks each, 2 trading configs each) on a LocalCluster of 1 worker, then of 2, each worker
    one task thread with the thread variables at 1 (`LSTM_BT_THREADS`, `OMP_NUM_THREADS`,
    `TF_NUM_INTRAOP_THREADS`), workers warmed (TensorFlow imported) before the clock starts;
    cells per minute and the ratio.
replay: one walk-forward trained in this process (`sweep.cell.train_forecasts`), then replayed
    with 6 trading configs (`sweep.cell.replay`); replay time as a share of the training run.
memory: a long sweep (`--cells` cells: tiny models on synthetic AR(1) bars, 4 trading configs
    per walk-forward) on 2 workers; every worker's RSS sampled as cells finish. `--lifetime`
    restarts workers after that many seconds (`distributed.worker.lifetime`), to compare.
"""

import argparse
import logging
import os
import tempfile
import threading
import time
import warnings
from pathlib import Path

from _common import REFERENCE_CSV, machine, median, timed

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*missing 1h bars.*")

SCENARIOS = ("throughput", "replay", "memory")
MODEL = {"seq_len": 30, "train_window": 500, "retrain_every": 168, "units": [16],
         "epochs": 2}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS + ("all",))
    parser.add_argument("--walks", type=int, default=8, help="walk-forwards in throughput")
    parser.add_argument("--cells", type=int, default=200, help="cells in memory")
    parser.add_argument("--lifetime", type=float, help="worker lifetime in memory, seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(machine())
    for scenario in SCENARIOS if args.scenario == "all" else (args.scenario,):
        {"throughput": throughput, "replay": replay, "memory": memory}[scenario](args)


def _cluster(workers, lifetime=None):
    import dask
    from distributed import Client, LocalCluster

    from lstm_bt.sweeps.execute import SCHEDULER_CONFIG, thread_environment

    settings = dict(SCHEDULER_CONFIG)
    if lifetime:
        settings.update({"distributed.worker.lifetime.duration": f"{lifetime}s",
                         "distributed.worker.lifetime.stagger": "5s",
                         "distributed.worker.lifetime.restart": True})
    with dask.config.set(settings):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               env={**thread_environment(1), "TF_CPP_MIN_LOG_LEVEL": "3"},
                               dashboard_address=None, silence_logs=logging.ERROR)
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


def replay(args):
    del args
    from lstm_bt.backtest_data import load_backtest_data
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
    from lstm_bt.synthetic import ar1_returns

    trading = {"threshold": [0.0, 0.001], "sizing": ["all_in", "proportional"]}
    walks = max(1, args.cells // 4)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "SYNUSDT.csv"
        write_kline_csv(data, ar1_returns(400, seed=5), "1h")
        spec = {"data": {"files": [str(data)], "interval": "1h",
                         "periods": [["2024-01-04", "2024-01-17"]]},
                "run": {"seeds": list(range(walks))},
                "model": {"seq_len": 8, "train_window": 60, "retrain_every": 48,
                          "units": [4], "epochs": 1},
                "trading": trading}
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
            result, spent = timed(lambda: sweep(spec, out=out, client=client))
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
    lifetime = f", worker lifetime {args.lifetime:.0f} s" if args.lifetime else ""
    print(f"memory: {len(result.cells)} cells in {spent:.0f} s{lifetime}; worker RSS MB "
          f"(cells done: worker/worker): {'; '.join(shown)}; load {_load()}")


def _rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load():
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
