"""How good are a sweep's time estimates? Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_sweep_eta.py eta [--workers 2] [--seeds 3]
    .venv/bin/python benchmarks/bench_sweep_eta.py cost

eta: a small real sweep through the public `sweep(spec, out, workers=N)` on BTCUSDT and
    ETHUSDT 1h from ../shared/data (2 symbols x 2 two-week periods x `--seeds` seeds x 4 model
    configs of growing cost x 2 trading configs; tiny models). After each walk-forward it
    records the progress bar's ETA; at the end it prints, per walk-forward done, the predicted
    total (elapsed + ETA) against the true total (when the last walk-forward finished), and
    what the old bar (counting cells at their average rate) would have said from the same
    completion times; and the dry run's estimate against the whole sweep.
cost: the cost model (`lstm_bt.sweeps.estimate`) against walk-forwards measured in this
    process, one thread (a local worker's share of 2 cores), one at a time: per config the
    measured and modelled seconds, then the constants a least-squares fit of the measurements
    gives (gradient step, build, forecast a bar, replay), to compare with the module's.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _common import SHARED_DATA, machine

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*missing 1h bars.*")

FILES = [str(SHARED_DATA / "btcusdt_1h_2022-2026_rest_raw.csv"),
         str(SHARED_DATA / "ethusdt_1h_2022-2026_rest_raw.csv")]
# eta: four model configs of growing cost (train_window x units), in the order they run.
ETA_MODEL = {"seq_len": 8, "train_window": [200, 600], "retrain_every": 100,
             "units": [[4], [16]], "epochs": 2}
COST_CONFIGS = [
    {"seq_len": 8, "train_window": 200, "retrain_every": 100, "units": [4], "epochs": 1},
    {"seq_len": 8, "train_window": 600, "retrain_every": 100, "units": [16], "epochs": 2},
    {"seq_len": 30, "train_window": 500, "retrain_every": 168, "units": [16], "epochs": 2},
    {"seq_len": 30, "train_window": 1000, "retrain_every": 168, "units": [32], "epochs": 5,
     "batch_size": 32},
    {"seq_len": 60, "train_window": 2000, "retrain_every": 168, "units": [32]},
    {"seq_len": 60, "train_window": 1000, "retrain_every": 168, "units": [64, 32],
     "epochs": 5},
    {"seq_len": 30, "train_window": 2000, "retrain_every": 84, "units": [64], "epochs": 4,
     "warm_epochs": 2},
    {"seq_len": 60, "train_window": 1000, "retrain_every": 168, "units": [32],
     "dense_units": [16], "epochs": 3, "warm_start": False},
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=("eta", "cost"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(machine(), flush=True)
    if args.scenario == "eta":
        eta(args.workers, args.seeds)
    else:
        cost()


def eta(workers, seeds):
    """The progress bar's ETA after each walk-forward of a real sweep, against the truth."""
    from lstm_bt import sweep
    from lstm_bt.sweeps import estimate_sweep, progress

    spec = {"data": {"files": FILES, "interval": "1h",
                     "periods": [["2024-03-01", "2024-03-15"], ["2024-06-01", "2024-06-15"]]},
            "run": {"seeds": list(range(seeds))}, "model": ETA_MODEL,
            "trading": {"threshold": [0.0, 0.001]}}
    dry = estimate_sweep(spec, workers=workers)
    seen = []  # (seconds since the sweep began, ETA, cells done) after each walk-forward
    update = progress.WalkProgress.update

    def recording(self, results):
        update(self, results)
        seen.append((time.perf_counter() - began, self.eta(), self.cells))

    progress.WalkProgress.update = recording
    try:
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            result = sweep(spec, out=Path(out) / "run", workers=workers)
            ended = time.perf_counter() - began
    finally:
        progress.WalkProgress.update = update
    total, cells = seen[-1][0], seen[-1][2]
    print(f"sweep: {dry.n_walk_forwards} walk-forwards, {dry.n_cells} cells, {workers} workers; "
          f"the last walk-forward finished at {total:.1f} s, sweep() returned at {ended:.1f} s "
          f"({result.failed} failed)")
    print(f"dry run's estimate of the whole sweep: {dry.total_s:.1f} s "
          f"({_error(dry.total_s, ended)} against sweep() returning)")
    print("the bar's ETA (to the last walk-forward) after each walk-forward; beside it the old "
          "bar's (cells at their average rate so far)")
    print("after  at s   ETA s   predicted total   error   (old bar)")
    for done, (at, left, cells_done) in enumerate(seen, 1):
        old = at + at / cells_done * (cells - cells_done)  # tqdm's average rate, in cells
        print(f"{done:5d} {at:7.1f} {left:7.1f} {at + left:13.1f} s   "
              f"{_error(at + left, total):>7}   ({_error(old, total)})")


def _error(predicted, true):
    return f"{(predicted - true) / true:+.0%}"


def cost():
    """Measured walk-forwards against the cost model; the constants the measurements fit."""
    os.environ.update({name: "1" for name in ("LSTM_BT_THREADS", "OMP_NUM_THREADS",
                                              "TF_NUM_INTRAOP_THREADS", "OPENBLAS_NUM_THREADS",
                                              "MKL_NUM_THREADS")})
    import numpy as np

    from lstm_bt.models import WalkForward
    from lstm_bt.models.backend import configure
    from lstm_bt.run.backtest_data import load_backtest_data
    from lstm_bt.sweeps import cell as engine
    from lstm_bt.sweeps.estimate import walk_seconds
    from lstm_bt.sweeps.plan import bars_for, plan_sweep
    from lstm_bt.sweeps.spec import load_spec

    configure()
    importlib.import_module("keras")  # before the clocks, as a worker has it

    source = load_backtest_data(FILES[0], interval="1h")
    rows = []
    print("config                                             bars fits measured modelled ratio")
    for model in COST_CONFIGS:
        spec = load_spec({"data": {"files": FILES[:1], "interval": "1h",
                                   "periods": [["2024-03-01", "2024-04-01"]]},
                          "model": model, "trading": {"threshold": [0.0, 0.001]}})
        _, _, [walk] = plan_sweep(spec, [(source.symbol, "1h", source.frame)], spec.broker)
        frame = bars_for(source.frame, walk)
        began = time.perf_counter()
        bars = load_backtest_data(frame, symbol=walk.symbol, interval="1h",
                                  start=walk.period_start, end=walk.period_end,
                                  history=engine.required_history(walk.model))
        forecasts, training = engine.train_forecasts(bars, walk.model, walk.seed)
        trained = time.perf_counter() - began
        replays = []
        for cell in walk.cells:
            replayed = time.perf_counter()
            engine.replay(bars, forecasts, walk.model, cell.trading, spec.broker)
            replays.append(time.perf_counter() - replayed)
        measured = time.perf_counter() - began
        modelled = walk_seconds(walk.model, len(forecasts), len(walk.cells))
        p = {**WalkForward.param_defaults(), **walk.model}
        rows.append({"p": p, "bars": len(forecasts), "fits": training["training_history"],
                     "forecast_s": trained - training["train_s"], "replays": replays})
        label = json.dumps({k: v for k, v in model.items()}, separators=(",", ":"))[:50]
        print(f"{label:50s} {len(forecasts):5d} {len(training['training_history']):4d} "
              f"{measured:7.2f}s {modelled:7.2f}s {modelled / measured:5.2f}", flush=True)
    _fit_constants(rows, np)


def _fit_constants(rows, np):
    from lstm_bt.models.features import FEATURE_SETS

    steps_x, steps_y, builds, forecast_x, forecast_y, replay_x, replay_y = ([] for _ in range(7))
    for row in rows:
        p = row["p"]
        inputs, macs = FEATURE_SETS[p["features"]].n_own_features, 0
        for width in p["units"]:
            macs, inputs = macs + 4 * width * (width + inputs), width
        n_val = max(1, int(p["train_window"] * p["validation_split"]))
        steps = -(-(p["train_window"] - n_val) // p["batch_size"]) + 1
        features = [1.0, p["seq_len"] * len(p["units"]), p["batch_size"] * p["seq_len"] * macs]
        for fit in row["fits"][1:] if len(row["fits"]) > 1 else []:
            if fit["warm"] or not p["warm_start"]:
                steps_x.append([x * len(fit["loss"]) * steps for x in features])
                steps_y.append(fit["fit_s"])
        row["step"] = features, steps
        forecast_x.append([row["bars"], row["bars"] * p["seq_len"] * macs])
        forecast_y.append(row["forecast_s"])
        for replay in row["replays"]:
            replay_x.append([1.0, row["bars"]])
            replay_y.append(replay)
    step = np.linalg.lstsq(np.array(steps_x), np.array(steps_y), rcond=None)[0]
    for row in rows:
        features, steps = row["step"]
        cold = row["fits"][0]
        builds.append(cold["fit_s"] - len(cold["loss"]) * steps * float(np.dot(step, features)))
    forecast = np.linalg.lstsq(np.array(forecast_x), np.array(forecast_y), rcond=None)[0]
    replay = np.linalg.lstsq(np.array(replay_x), np.array(replay_y), rcond=None)[0]
    print("fitted: STEP_S {:.2e}, STEP_TIMESTEP_S {:.2e}, STEP_MAC_S {:.2e}, BUILD_S {:.2f} "
          "(median), FORECAST_BAR_S {:.2e} (with WALK_S), FORECAST_MAC_S {:.2e}, REPLAY_S {:.3f}, "
          "REPLAY_BAR_S {:.2e}".format(*step, float(np.median(builds)), *forecast, *replay))
    print("cold fits' epochs (early stopping): "
          + ", ".join(f"{len(row['fits'][0]['loss'])}/{row['p']['epochs']}" for row in rows))


if __name__ == "__main__":
    sys.exit(main())
