"""Sweeps in the sweep's own worker processes and on a real Dask LocalCluster (2 worker
processes), tiny data and models.

One cluster serves the module. Each test uses its own seeds or output directory, so no test
depends on another's results.
"""

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest

from lstm_bt import sweep
from lstm_bt.binance.files import write_kline_csv
from lstm_bt.stats import METRIC_KEYS
from lstm_bt.sweeps.data import load_sources
from lstm_bt.sweeps.execute import run_walk_forward, thread_environment
from lstm_bt.sweeps.plan import bars_for, plan_sweep
from lstm_bt.sweeps.spec import load_spec, spec_to_toml
from lstm_bt.data.synthetic import ar1_returns
from test_sweep_spec import _spec as tiny_spec

pytestmark = pytest.mark.slow

# No dashboard, and the scheduler's HTTP routes on a free port: Dask's default, 8787, may be
# held by another cluster (this module's, another suite's), which makes Dask warn.
NO_DASHBOARD = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}
# A worker holds only the task it runs (Dask's default lets a 1-thread worker queue a second).
SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0}


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    env = {**thread_environment(1), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with dask.config.set(SCHEDULER_CONFIG), \
            LocalCluster(n_workers=2, processes=True, threads_per_worker=1, env=env,
                         silence_logs=logging.ERROR, **NO_DASHBOARD) as local, \
            Client(local) as client:
        yield local, client


@pytest.fixture(scope="module")
def kline_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep-data") / "TESTUSDT.csv"
    write_kline_csv(path, ar1_returns(300, phi=0.3, seed=3), "1h")  # 2024-01-01 .. 01-13 11:00
    return path


# One day to trade (one model trains): for tests whose subject is around the walk-forwards.
ONE_DAY = {"periods": [["2024-01-12", "2024-01-13"]]}


def _spec(kline_file, **tables):
    """test_sweep_spec's tiny 6-config spec, on a real kline file."""
    spec = tiny_spec(**tables)
    spec["data"] = {**spec["data"], "files": [str(kline_file)]}
    return spec


@pytest.fixture(scope="module")
def finished(cluster, kline_file, tmp_path_factory):
    """The 12-cell sweep (6 configs x 2 seeds) run once on the 2-worker cluster."""
    out = tmp_path_factory.mktemp("sweep-out") / "run"
    spec = _spec(kline_file)
    with _task_log(cluster[1]) as tasks:
        result = sweep(spec, out=out, client=cluster[1])
    return spec, out, result, tasks


def test_every_output_file_is_written(finished):
    _, out, result, _ = finished
    names = {path.name for path in out.iterdir()}
    assert {"spec.toml", "cells.csv", "configs.csv", "summary.json", "returns.npz",
            "heatmap_threshold__sizing.png", "sharpe.png"} <= names
    cells = pd.read_csv(out / "cells.csv")
    assert len(cells) == 12 and set(cells["status"]) == {"ok"}
    for column in ("symbol", "interval", "period_start", "period_end", "seed", "threshold",
                   "sizing", "status", "error", "bh_sharpe", "forecast_hit_rate", "train_s",
                   "total_s", *METRIC_KEYS):
        assert column in cells.columns, column
    configs = pd.read_csv(out / "configs.csv")
    assert len(configs) == 6 and (configs["cells"] == 2).all()
    summary = result.summary
    assert summary["n_configs"] == 6 and summary["n_cells"] == 12 and summary["failed"] == 0
    assert summary["best"]["sharpe_median"] == configs["sharpe_median"].max()
    assert 0 <= summary["dsr"] <= summary["psr"] <= 1 and 0 <= summary["pbo"] <= 1
    assert "deflated for 6 trials: probability" in result.describe()


def test_a_grid_of_3_thresholds_by_2_sizings_trains_once_per_seed(finished):
    *_, result, tasks = finished
    trained = [key for key in tasks if key.startswith("walk-forward-")]
    assert len(trained) == 2  # two seeds; the six trading configs of each replay it
    assert result.summary["timing"]["walk_forwards"] == 2
    cells = result.cells
    assert cells.groupby("seed")["train_s"].nunique().eq(1).all()


def test_results_equal_a_serial_run_cell_for_cell(finished):
    # The same walk-forwards run one after another in this process (no Dask): every metric
    # and every per-bar return must be identical. Needs seeds that reproduce in any process.
    spec, out, _, _ = finished
    checked = load_spec(spec)
    sources = load_sources(checked)
    frames = {symbol: frame for symbol, _, frame in sources}
    _, cells, walks = plan_sweep(checked, sources, checked.broker)
    serial = {}
    for walk in walks:
        for record in run_walk_forward(bars_for(frames[walk.symbol], walk), walk,
                                       checked.broker):
            serial[record["key"]] = record
    table = pd.read_csv(out / "cells.csv")
    stored = np.load(out / "returns.npz")
    for cell, (_, row) in zip(cells, table.iterrows()):
        record = serial[cell.key]
        assert record["status"] == "ok"
        for key, value in record["report"]["metrics"].items():
            assert _same(row[key], value), (cell.config, cell.seed, key, row[key], value)
        name = (f"config{cell.config}__{cell.symbol}__{cell.period_start}__{cell.period_end}"
                f"__seed{cell.seed}")
        np.testing.assert_array_equal(stored[name], record["returns"])


def test_a_replayed_cell_equals_the_plain_backtest_with_the_same_params(finished, kline_file):
    from lstm_bt import run_backtest

    spec, out, _, _ = finished
    row = pd.read_csv(out / "cells.csv").query("seed == 1 and sizing == 'proportional'"
                                               " and threshold == 0.001").iloc[0]
    plain = run_backtest(str(kline_file), start="2024-01-04", end="2024-01-13", seed=1,
                         cache=False, threshold=0.001, sizing="proportional",
                         **spec["model"] | {"units": (4,)})
    for key, value in plain.report["metrics"].items():
        assert _same(row[key], value), (key, row[key], value)


def test_a_second_run_computes_nothing(finished, cluster):
    spec, out, _, _ = finished
    before = (out / "cells.csv").read_text()
    with _task_log(cluster[1]) as tasks:
        again = sweep(spec, out=out, client=cluster[1])
    assert tasks == []
    assert again.summary["timing"]["walk_forwards"] == 0
    assert again.summary["timing"]["cells_reused"] == 12
    assert (out / "cells.csv").read_text() == before


def test_an_interrupted_sweep_resumes_only_its_missing_cells(finished, cluster, tmp_path):
    # What Ctrl-C leaves: some cells stored, others not. Copy the finished directory and
    # remove one cell's result: the re-run trains that cell's walk-forward only.
    import shutil

    spec, out, _, _ = finished
    partial = tmp_path / "partial"
    shutil.copytree(out, partial)
    for name in ("cells.csv", "configs.csv", "summary.json", "returns.npz"):
        (partial / name).unlink()
    victim = sorted((partial / "cells").glob("*.npz"))[0]
    victim.unlink()
    (partial / "cells" / "damaged.npz").write_bytes(b"not a zip")  # a torn write: ignored
    with _task_log(cluster[1]) as tasks:
        resumed = sweep(spec, out=partial, client=cluster[1])
    assert len([key for key in tasks if key.startswith("walk-forward-")]) == 1
    assert resumed.summary["timing"]["cells_run"] == 1
    assert victim.exists()
    again = pd.read_csv(partial / "cells.csv").drop(columns=["train_s", "total_s"])
    first = pd.read_csv(out / "cells.csv").drop(columns=["train_s", "total_s"])
    redone = [cell.key for cell in _planned_cells(spec)].index(victim.stem)
    assert again.loc[redone, "status"] == "ok"
    # The cells not recomputed are read back unchanged (the recomputed one equals its first
    # run only with seeds that reproduce in any worker thread: test_results_equal_...).
    pd.testing.assert_frame_equal(again.drop(index=redone), first.drop(index=redone),
                                  check_exact=True)


def _planned_cells(spec):
    checked = load_spec(spec)
    return plan_sweep(checked, load_sources(checked), checked.broker)[1]


def test_a_failing_cell_is_recorded_and_the_rest_complete_exit_3(cluster, kline_file,
                                                                  tmp_path):
    # train_window 120 needs 128 bars before the period (72 are there): that cell raises in
    # the worker; the train_window 60 cell completes; the CLI says so and exits 3.
    spec = _spec(kline_file, run={"seeds": [2]}, model={"train_window": [60, 120]},
                 trading={"threshold": 0.0, "sizing": "all_in"})
    path = tmp_path / "spec.toml"
    path.write_text(spec_to_toml(spec))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "lstm_bt", "sweep", str(path), "--out",
                           str(out), "--scheduler", cluster[0].scheduler_address, "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]
    cells = pd.read_csv(out / "cells.csv")
    assert list(cells["status"]) == ["ok", "failed"]
    assert list(cells["train_window"]) == [60, 120]
    assert "too little history" in cells["error"].iloc[1]
    assert pd.notna(cells["sharpe"].iloc[0]) and pd.isna(cells["sharpe"].iloc[1])
    assert "2 backtests (2 configs), 1 failed." in done.stdout


def test_a_worker_killed_during_a_task_is_replaced_and_the_sweep_completes(cluster,
                                                                           kline_file,
                                                                           tmp_path):
    local, client = cluster
    spec = _spec(kline_file, run={"seeds": [7]}, trading={"threshold": 0.0,
                                                          "sizing": "all_in"})
    outcome = {}

    def run():
        try:
            outcome["result"] = sweep(spec, out=tmp_path / "out", client=client)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = error

    pids = client.run(os.getpid)
    runner = threading.Thread(target=run)
    runner.start()
    busy = _wait_for_walk_forward_running(client)
    time.sleep(0.3)
    # Still inside the task (training takes seconds), or the kill would prove nothing.
    assert any(str(key).startswith("walk-forward-") for key in client.processing()[busy])
    pid = pids[busy]
    os.kill(pid, signal.SIGKILL)
    runner.join(timeout=300)
    assert not runner.is_alive()
    assert "error" not in outcome, outcome.get("error")
    cells = outcome["result"].cells
    assert len(cells) == 1 and set(cells["status"]) == {"ok"}
    client.wait_for_workers(2, timeout=120)
    assert pid not in client.run(os.getpid).values()


def test_a_local_worker_process_killed_during_a_walk_forward_is_replaced_and_it_runs_again(
        finished, kline_file, tmp_path, caplog):
    # The default, no Dask: kill -9 the process training seed 0; a fresh process trains it
    # again and its cells equal those of the sweep nobody killed.
    spec = _spec(kline_file, run={"seeds": [0]}, trading={"threshold": 0.0,
                                                          "sizing": "all_in"})
    before = set(multiprocessing.active_children())
    outcome = {}

    def run():
        try:
            outcome["result"] = sweep(spec, out=tmp_path / "out", workers=1)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = error

    runner = threading.Thread(target=run)
    with caplog.at_level(logging.WARNING, logger="lstm_bt.sweeps"):
        runner.start()
        pid = _wait_for_training_process(before)  # TensorFlow loads inside the task
        os.kill(pid, signal.SIGKILL)
        runner.join(timeout=300)
    assert not runner.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert any("worker process died" in record.getMessage() for record in caplog.records)
    table = pd.read_csv(tmp_path / "out" / "cells.csv")
    first = pd.read_csv(finished[1] / "cells.csv").query(
        "seed == 0 and threshold == 0.0 and sizing == 'all_in'")
    assert list(table["status"]) == ["ok"]
    same = [column for column in table.columns if column in first.columns
            and column not in ("config", "train_s", "total_s")]
    assert set(METRIC_KEYS) <= set(same)
    pd.testing.assert_frame_equal(table[same], first[same].reset_index(drop=True),
                                  check_exact=True)
    assert not set(multiprocessing.active_children()) - before, "no process left behind"


@pytest.fixture(scope="module")
def restarted(kline_file, tmp_path_factory):
    """Seeds 0, 1 and 2 on 2 local worker processes, each replaced after one walk-forward, with
    a data directory of its own: (spec, output directory, result, the pids of the processes
    it started, those left once it returned, the data directories that the workers'
    environment was made from)."""
    from lstm_bt.models import compile_cache

    folder = tmp_path_factory.mktemp("restarted")
    longer = _spec(kline_file, run={"seeds": [0, 1, 2]})
    before = set(multiprocessing.active_children())
    seen, done, asked = set(), threading.Event(), []
    environment = compile_cache.compile_cache_environment

    def watch():
        while not done.is_set():
            seen.update(p.pid for p in set(multiprocessing.active_children()) - before)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(compile_cache, "compile_cache_environment",
                          lambda data_dir=None: asked.append(data_dir) or environment(data_dir))
            result = sweep(longer, out=folder / "out", workers=2, restart_workers_every=1,
                           data_dir=folder / "data")
    finally:
        done.set()
        watcher.join()
    left = set(multiprocessing.active_children()) - before
    return longer, folder, result, seen, left, asked


def test_each_local_worker_process_is_replaced_after_its_n_th_walk_forward_and_results_stay_equal(
        finished, restarted):
    # restart_workers_every=1: each walk-forward runs in a fresh process. Every result equals
    # the sweep without restarts (seeds 0 and 1) or a serial run in this process (seed 2), and
    # no process is left once the sweep returns.
    _, out, _, _ = finished
    longer, folder, result, seen, left, _ = restarted
    assert result.summary["failed"] == 0
    assert len(seen) == 3, seen  # three walk-forwards, three processes
    assert not left

    columns = ["threshold", "sizing", "seed"]
    table = pd.read_csv(folder / "out" / "cells.csv").drop(columns=["train_s", "total_s"])
    first = pd.read_csv(out / "cells.csv").drop(columns=["train_s", "total_s"])
    pd.testing.assert_frame_equal(
        table[table["seed"] < 2].sort_values(columns).reset_index(drop=True),
        first.sort_values(columns).reset_index(drop=True), check_exact=True)
    checked = load_spec(longer)
    sources = load_sources(checked)
    walks = plan_sweep(checked, sources, checked.broker)[2]
    walk = next(walk for walk in walks if walk.seed == 2)
    stored = np.load(folder / "out" / "returns.npz")
    serial = run_walk_forward(bars_for(sources[0][2], walk), walk, checked.broker)
    for cell, record in zip(walk.cells, serial):
        row = table.query(f"seed == 2 and threshold == {cell.trading['threshold']} and "
                          f"sizing == '{cell.trading['sizing']}'").iloc[0]
        for key, value in record["report"]["metrics"].items():
            assert _same(row[key], value), (cell.trading, key, row[key], value)
        name = (f"config{cell.config}__{cell.symbol}__{cell.period_start}__{cell.period_end}"
                f"__seed{cell.seed}")
        np.testing.assert_array_equal(stored[name], record["returns"])


def test_the_cli_without_workers_or_scheduler_runs_one_single_threaded_worker_per_core(
        kline_file, tmp_path):
    # Three walk-forwards, each worker process replaced after one: with -v the terminal gets
    # lstm-bt's own lines and nothing else (no Dask, no TensorFlow start-up, no traceback).
    # A day each (one model): what is checked is around the walk-forwards, not in them.
    spec = _spec(kline_file, data=ONE_DAY, run={"seeds": [3, 4, 5]},
                 trading={"threshold": 0.0, "sizing": "all_in"})
    path = tmp_path / "spec.toml"
    path.write_text(spec_to_toml(spec))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "lstm_bt", "sweep", str(path), "--out",
                           str(out), "--quiet", "-v", "--restart-workers-every", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    cores = len(os.sched_getaffinity(0))
    assert (f"sweep: {cores} local worker processes, LSTM_BT_THREADS=1, a fresh process "
            f"every 1 walk-forwards") in done.stderr, done.stderr[-2000:]
    assert list(pd.read_csv(out / "cells.csv")["status"]) == ["ok"] * 3
    foreign = [line for line in done.stderr.splitlines()
               if not line.startswith(("INFO lstm_bt.", "WARNING lstm_bt."))]
    assert not foreign, foreign[:5]


def test_every_local_worker_process_a_fresh_one_too_starts_with_the_sweeps_environment():
    # The thread cap and (under JAX) the compilation cache are set before Keras loads, in the
    # first process and in each that replaces it; Ctrl-C is left to the sweep's own process.
    from lstm_bt.sweeps.local import _Worker

    env = {**thread_environment(1), "JAX_COMPILATION_CACHE_DIR": "/tmp/jax-cache-of-a-sweep"}
    worker = _Worker(env, restart_every=1)
    try:
        first = worker.submit(_environment, list(env)).result(timeout=120)
        again = worker.submit(_environment, list(env)).result(timeout=120)
    finally:
        worker.close()
    assert first[0] != again[0], "a fresh process"
    for _, seen, ignores_ctrl_c in (first, again):
        assert seen == env and ignores_ctrl_c


def _environment(names):
    return (os.getpid(), {name: os.environ.get(name) for name in names},
            signal.getsignal(signal.SIGINT) == signal.SIG_IGN)


def test_a_sweeps_walk_forward_is_named_as_the_forecast_cache_names_the_same_backtest(
        finished, kline_file, tmp_path):
    # One cache key for walk-forwards: the backtest of a sweep cell's params over its period
    # stores its forecasts under that cell's walk-forward key.
    from lstm_bt import run_backtest

    spec, _, _, _ = finished
    checked = load_spec(spec)
    walk = next(walk for walk in plan_sweep(checked, load_sources(checked), checked.broker)[2]
                if walk.seed == 1)
    run_backtest(str(kline_file), start=walk.period_start, end=walk.period_end, seed=1,
                 data_dir=tmp_path, **walk.model)
    assert [path.name for path in (tmp_path / "forecast_cache").iterdir()] == [walk.key]


def _worker_processes_of(parent):
    """The pids of the multiprocessing workers whose parent is `parent`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for_training_process(before, timeout=120):
    """The pid of a new child process of this one once it has loaded TensorFlow."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in set(multiprocessing.active_children()) - before:
            try:
                maps = open(f"/proc/{process.pid}/maps").read()
            except OSError:
                continue
            if "tensorflow" in maps:
                return process.pid
        time.sleep(0.05)
    raise AssertionError("no worker process loaded TensorFlow")


def _wait_for_walk_forward_running(client, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if any(str(key).startswith("walk-forward-") for key in keys):
                return worker
        time.sleep(0.05)
    raise AssertionError("no walk-forward task started")


class _task_log:
    """The keys of the tasks the cluster ran while the block ran (Dask's task stream)."""

    def __init__(self, client):
        from distributed import get_task_stream

        self._stream = get_task_stream(client=client)
        self._keys = []

    def __enter__(self):
        self._stream.__enter__()
        return self._keys

    def __exit__(self, *exc):
        self._stream.__exit__(*exc)
        self._keys.extend(str(item["key"]) for item in self._stream.data)
        return False


def _same(stored, value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return pd.isna(stored)
    return stored == value


def test_a_cluster_without_workers_stops_the_sweep_with_a_clear_error(kline_file, tmp_path,
                                                                      monkeypatch):
    from distributed import Client, LocalCluster

    from lstm_bt.errors import LstmBtError
    from lstm_bt.sweeps import on_dask

    monkeypatch.setattr(on_dask, "NO_WORKERS_S", 1.0)
    monkeypatch.setattr(on_dask, "_POLL_S", 0.2)
    with LocalCluster(n_workers=0, processes=False, **NO_DASHBOARD) as empty, \
            Client(empty) as client:
        with pytest.raises(LstmBtError, match="no worker for 1 s"):
            sweep(_spec(kline_file), out=tmp_path / "run", client=client)
    assert not list((tmp_path / "run" / "cells").glob("*")), "nothing ran, nothing recorded"


@pytest.mark.parametrize("where", ["scheduler", "local"])
def test_ctrl_c_leaves_a_directory_the_same_command_resumes(cluster, kline_file, tmp_path,
                                                            where):
    # 3 walk-forwards on 2 workers (the Dask cluster's, or the command's own processes):
    # SIGINT once the first cell is written, long before the last can be (each takes about a
    # second, and the third starts only once one of the first two is done). The command's own
    # worker processes end with it.
    seeds = list(range(10, 13))
    spec = _spec(kline_file, run={"seeds": seeds},
                 trading={"threshold": 0.0, "sizing": "all_in"})
    path = tmp_path / "spec.toml"
    path.write_text(spec_to_toml(spec))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lstm_bt", "sweep", str(path), "--out", str(out),
               *(["--scheduler", cluster[0].scheduler_address] if where == "scheduler"
                 else ["--workers", "2"]), "--quiet"]
    running = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while not list((out / "cells").glob("*.npz")) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _worker_processes_of(running.pid)
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=120)
    written = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.npz")}
    assert running.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "resume" in stderr
    assert len(workers) == (2 if where == "local" else 0)
    assert not [pid for pid in workers if _alive(pid)], "worker processes left running"
    assert 1 <= len(written) < len(seeds), "interrupted after the first cell, before the last"

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(pd.read_csv(out / "cells.csv")) == len(seeds)
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.npz")}
    assert all(kept[name] == mtime for name, mtime in written.items()), "finished cells rerun"


def test_a_walk_forward_never_clears_keras_state_while_another_thread_fits(
        kline_file, monkeypatch):
    # Each sweep walk-forward starts with keras.backend.clear_session(), which replaces the
    # Keras state of every thread of the process. In a worker with several task threads it
    # landed inside another walk-forward's epoch and broke it (UnexpectedTracerError under
    # JAX on 16 cores, benchmarks/README.md). While any fit runs (a sweep's or not), it is
    # skipped.
    import keras

    from lstm_bt.run.backtest_data import load_backtest_data
    from lstm_bt.models import WalkForward, training_steps
    from lstm_bt.sweeps import cell

    seen, fitting, other_fits = [], threading.Event(), threading.Event()
    epoch_runner, clear_session = training_steps.epoch_runner, keras.backend.clear_session

    class WatchedRunner:
        """The fit's runner, its first epoch in the thread "first" slowed down and noted."""

        def __init__(self, run):
            self.run = run

        def __getattr__(self, name):  # the rest of the runner (validation, finish) as it is
            return getattr(self.run, name)

        def __call__(self, *args):
            if threading.current_thread().name != "first":
                other_fits.set()  # so it is past its clear_session (or past skipping it)
                return self.run(*args)
            if fitting.is_set():
                return self.run(*args)
            seen.append("first: epoch begins")
            fitting.set()
            # Room for the other thread's clear_session, were it let in: until that thread
            # fits itself, at most a second.
            other_fits.wait(timeout=1.0)
            losses = self.run(*args)
            seen.append("first: epoch ends")
            return losses

    def watched_runner(*args, **kwargs):
        return WatchedRunner(epoch_runner(*args, **kwargs))

    def watched_clear_session(*args, **kwargs):
        seen.append(f"{threading.current_thread().name}: clear_session")
        return clear_session(*args, **kwargs)

    monkeypatch.setattr(training_steps, "epoch_runner", watched_runner)
    monkeypatch.setattr(keras.backend, "clear_session", watched_clear_session)
    model = {"seq_len": 8, "train_window": 100, "retrain_every": 24, "units": (4,), "epochs": 1}
    bars = load_backtest_data(str(kline_file), interval="1h", start="2024-01-10",
                              end="2024-01-11", history=cell.required_history(model))
    first = threading.Thread(name="first", target=lambda: WalkForward(**model, seed=0).run(
        bars.frame, start=bars.start))
    first.start()
    assert fitting.wait(timeout=120)
    second = cell.train_forecasts(bars, model, seed=1)[0]
    first.join()
    assert seen[:2] == ["first: epoch begins", "first: epoch ends"], seen
    assert "MainThread: clear_session" not in seen
    assert second.notna().all() and len(second) == 24
    cell.train_forecasts(bars, model, seed=1)  # alone now: clears
    assert seen[-1] == "MainThread: clear_session"


def test_a_sweep_gives_its_workers_the_compilation_cache_of_its_data_directory(restarted):
    # The sweep of `restarted` was given its own data directory.
    _, folder, result, _, _, asked = restarted
    assert set(result.cells["status"]) == {"ok"}
    assert asked == [folder / "data"]  # what the workers' environment is made from
