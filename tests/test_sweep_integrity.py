"""A sweep never loses, mixes or invents a result (issue 21): one run at a time writes into an
`--out`, each cell keeps its own returns, `timing` counts every run, a damaged cell file is
computed again, and a lost Dask scheduler stops the sweep in one line, resumable.

The slow tests share one real sweep (`busy`: two periods that share a start, two thresholds:
four cells, two walk-forwards), run by the command while a second command tries the same
`--out`; each test copies its directory before changing it.
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.cli_runs import ROOT, refusal_problem
from lstm_bt import sweep
from lstm_bt.binance.files import write_kline_csv
from lstm_bt.cli import main
from lstm_bt.data.synthetic import ar1_returns
from lstm_bt.sweeps.data import load_sources
from lstm_bt.sweeps.plan import plan_sweep
from lstm_bt.sweeps.results import SweepDir
from lstm_bt.sweeps.spec import load_spec, spec_to_toml

TINY = {"seq_len": 8, "train_window": 100, "retrain_every": 100, "units": [4], "epochs": 1}
COUNTS = ("walk_forwards", "cells_run", "cells_reused")


@pytest.fixture(scope="module")
def kline_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("integrity-data") / "TESTUSDT.csv"
    write_kline_csv(path, ar1_returns(300, phi=0.3, seed=3), "1h")  # 2024-01-01 .. 01-13 11:00
    return path


def _spec(kline_file, seeds=(0,), thresholds=(0.0, 0.001)):
    """Two periods that share their start (one day, two days), tiny models."""
    return {"data": {"files": [str(kline_file)], "interval": "1h",
                     "periods": [["2024-01-10", "2024-01-11"], ["2024-01-10", "2024-01-12"]]},
            "run": {"seeds": list(seeds)}, "model": TINY,
            "trading": {"threshold": list(thresholds), "sizing": "all_in"}}


def _write_spec(path, spec):
    path.write_text(spec_to_toml(spec))
    return path


def _sweep_command(spec_path, out, *flags):
    return [sys.executable, "-m", "lstm_bt", "sweep", str(spec_path), "--out", str(out),
            "--quiet", *flags]


def _cells(spec):
    checked = load_spec(spec)
    return plan_sweep(checked, load_sources(checked), checked.broker)[1]


def _copy(out, tmp_path):
    return Path(shutil.copytree(out, tmp_path / "copy"))


# --- 1: one run at a time writes into an --out --------------------------------------------

_HOLD = """
import sys, time
from lstm_bt.run.run_dir import RunDirClaim
RunDirClaim(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_a_sweep_into_an_out_another_run_holds_is_refused_at_once_and_writes_nothing(
        kline_file, tmp_path, capsys):
    # Another process holds --out the way `lstm-bt backtest` does: the sweep stops before it
    # writes anything (no spec.toml, no cells/), in one line naming the directory.
    out = tmp_path / "out"
    spec = _write_spec(tmp_path / "spec.toml", _spec(kline_file))
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        began = time.monotonic()
        status = main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"])
        took = time.monotonic() - began
    finally:
        holder.kill()
        holder.wait()
    error = capsys.readouterr().err.strip()
    assert status == 2, error
    assert error == (f"lstm-bt: error: `--out` {out} is being written by another lstm-bt run "
                     f"(pid {holder.pid}); wait for it to finish, or choose another `--out`.")
    assert took < 5, took
    assert not out.exists()


@pytest.fixture(scope="module")
def busy(kline_file, tmp_path_factory):
    """Sweep A runs by the command; once it holds --out (its spec.toml is there), sweep B, a
    different spec, is started into the same --out. Both commands' results."""
    place = tmp_path_factory.mktemp("integrity")
    out = place / "out"
    spec_a = _write_spec(place / "a.toml", _spec(kline_file))
    spec_b = _write_spec(place / "b.toml", _spec(kline_file, seeds=[5], thresholds=[0.002]))
    first = subprocess.Popen(_sweep_command(spec_a, out, "--workers", "1"), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "spec.toml").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    began = time.monotonic()
    second = subprocess.run(_sweep_command(spec_b, out, "--workers", "1"), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    took = time.monotonic() - began
    a_was_running = first.poll() is None
    stdout, stderr = first.communicate(timeout=300)
    return {"out": out, "spec_a": spec_a, "first": (first.returncode, stdout, stderr),
            "second": second, "second_s": took, "a_was_running": a_was_running}


@pytest.mark.slow
def test_a_second_sweep_into_a_busy_out_is_refused_and_the_first_keeps_its_own_results(
        busy, kline_file):
    out, second = busy["out"], busy["second"]
    assert busy["a_was_running"], "sweep A finished before B tried: nothing was tested"
    problem = refusal_problem(second, f"`--out` {out} is being written by another lstm-bt run")
    assert problem is None, problem
    assert "wait for it to finish, or choose another `--out`" in second.stderr
    assert busy["second_s"] < 15, busy["second_s"]  # its start-up: it waits for nothing
    assert second.stdout == ""
    status, stdout, stderr = busy["first"]
    assert status == 0, stderr[-2000:]
    assert f"report: {out / 'report.html'}" in stdout
    # Only A is there: its spec, its four cells, its figures.
    assert (out / "spec.toml").read_text() == busy["spec_a"].read_text()
    cells = _cells(_spec(kline_file))
    assert sorted(p.stem for p in (out / "cells").iterdir()) == sorted(c.key for c in cells)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_cells"] == 4 and summary["n_configs"] == 2 and summary["failed"] == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["a.toml", "b.toml", "out"]


# --- 3: periods that share a start keep their own returns ---------------------------------

@pytest.mark.slow
def test_periods_that_share_a_start_each_keep_their_returns_named_with_both_ends(busy,
                                                                                kline_file):
    out = busy["out"]
    stored = np.load(out / "returns.npz")
    cells = _cells(_spec(kline_file))
    names = {f"config{c.config}__TESTUSDT__2024-01-10__{c.period_end}__seed0": c for c in cells}
    assert {c.period_end for c in cells} == {"2024-01-11", "2024-01-12"}
    assert sorted(stored.files) == sorted(names)
    directory = SweepDir(out)
    for name, cell in names.items():
        np.testing.assert_array_equal(stored[name], directory.load(cell.key)["returns"])
        assert len(stored[name]) == (24 if cell.period_end == "2024-01-11" else 48)


# --- 4: timing counts this run and all runs -------------------------------------------------

@pytest.mark.slow
def test_a_resume_keeps_this_runs_counts_and_sums_every_run_in_all_runs(busy, kline_file,
                                                                       tmp_path, caplog):
    out = _copy(busy["out"], tmp_path)
    spec = _spec(kline_file)
    first = json.loads((out / "summary.json").read_text())["timing"]
    assert {k: first[k] for k in COUNTS} == {"walk_forwards": 2, "cells_run": 4,
                                             "cells_reused": 0}
    assert first["all_runs"] == {k: first[k] for k in COUNTS}
    again = sweep(spec, out=out, workers=1).summary["timing"]
    assert {k: again[k] for k in COUNTS} == {"walk_forwards": 0, "cells_run": 0,
                                             "cells_reused": 4}
    assert again["all_runs"] == {"walk_forwards": 2, "cells_run": 4, "cells_reused": 4}
    assert json.loads((out / "summary.json").read_text())["timing"] == again

    (out / "summary.json").write_text('{"timing": {"all_runs": [1, 2')  # a torn write
    with caplog.at_level(logging.WARNING, logger="lstm_bt.sweeps"):
        third = sweep(spec, out=out, workers=1).summary["timing"]
    assert third["all_runs"] == {"walk_forwards": 0, "cells_run": 0, "cells_reused": 4}
    assert any(f"{out / 'summary.json'} is damaged" in r.getMessage() for r in caplog.records)


# --- 10: a damaged cell file is computed again ----------------------------------------------

@pytest.mark.slow
def test_a_truncated_cell_file_and_a_list_record_are_removed_and_computed_again(
        busy, kline_file, tmp_path, caplog):
    out = _copy(busy["out"], tmp_path)
    spec = _spec(kline_file)
    day = [c for c in _cells(spec) if c.period_end == "2024-01-11"]  # one walk-forward
    truncated, listed = (out / "cells" / f"{c.key}.npz" for c in day)
    truncated.write_bytes(truncated.read_bytes()[:5000])  # `head -c 5000`
    with np.load(listed) as stored:
        returns = stored["returns"]
    with open(listed, "wb") as file:
        np.savez(file, record=np.array(json.dumps([1, 2])), returns=returns)
    with caplog.at_level(logging.WARNING, logger="lstm_bt.sweeps"):
        result = sweep(spec, out=out, workers=1)
    timing = result.summary["timing"]
    assert {k: timing[k] for k in COUNTS} == {"walk_forwards": 1, "cells_run": 2,
                                              "cells_reused": 2}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for path in (truncated, listed):
        assert any(f"cell result {path} is damaged" in m for m in warned), warned
    assert set(result.cells["status"]) == {"ok"}
    # Computed again from the same seeds: the same results as the first run's, cell for cell.
    columns = ["train_s", "total_s"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "cells.csv").drop(columns=columns),
                                  pd.read_csv(busy["out"] / "cells.csv").drop(columns=columns),
                                  check_exact=True)


def test_a_damaged_cell_file_is_removed_with_a_warning_naming_it(tmp_path, caplog):
    directory = SweepDir(tmp_path / "out")
    directory.prepare("[data]\n")
    report = {"metrics": {}, "benchmark": {}, "forecast": {}}
    for key in ("whole", "torn", "listed", "other", "no-report"):
        directory.store({"key": key, "status": "ok", "error": "", "report": report,
                         "returns": np.arange(2000.0), "train_s": 1.0, "total_s": 2.0})
    torn = directory.cells / "torn.npz"
    torn.write_bytes(torn.read_bytes()[:5000])
    for key, record in (("listed", [1, 2]), ("other", {"key": "whole", "status": "ok"}),
                        ("no-report", {"key": "no-report", "status": "ok", "error": "",
                                       "report": None, "train_s": 1.0, "total_s": 2.0})):
        with open(directory.cells / f"{key}.npz", "wb") as file:
            np.savez(file, record=np.array(json.dumps(record)), returns=np.arange(3.0))
    with caplog.at_level(logging.WARNING, logger="lstm_bt.sweeps"):
        done = directory.finished(["whole", "torn", "listed", "other", "no-report"])
    assert done == {"whole"}
    assert [p.name for p in directory.cells.iterdir()] == ["whole.npz"]
    for key in ("torn", "listed", "other", "no-report"):
        assert any(f"cell result {directory.cells / key}.npz is damaged" in r.getMessage()
                   for r in caplog.records), key


# --- 13: a lost scheduler stops the sweep in one line ---------------------------------------

@pytest.mark.slow
def test_a_sweep_whose_scheduler_is_killed_stops_in_one_line_keeping_its_finished_cells(
        kline_file, tmp_path):
    # A real `dask scheduler` and `dask worker` (one thread: one walk-forward at a time);
    # kill -9 the scheduler once the first cell is stored, long before the last one is.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    spec = _write_spec(tmp_path / "spec.toml", _spec(kline_file, seeds=[0, 1, 2],
                                                     thresholds=[0.0]))
    out, address_file = tmp_path / "out", tmp_path / "scheduler.json"
    processes = []

    def start(*command, **options):
        processes.append(subprocess.Popen([sys.executable, *command], env=env, **options))
        return processes[-1]

    try:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        scheduler = start("-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                          "--port", "0", "--dashboard-address", ":0", "--scheduler-file",
                          str(address_file), **quiet)
        address = _scheduler_address(address_file)
        start("-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers",
              "1", "--no-dashboard", **quiet)
        running = start(*_sweep_command(spec, out, "--scheduler", address)[1:], cwd=ROOT,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not list((out / "cells").glob("*.npz")) and time.monotonic() < deadline:
            time.sleep(0.02)
        scheduler.send_signal(signal.SIGKILL)
        stdout, stderr = running.communicate(timeout=60)
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait()
    done = subprocess.CompletedProcess(running.args, running.returncode, stdout, stderr)
    problem = refusal_problem(done, "run the same command again to resume")
    assert problem is None, problem
    assert address in stderr and stdout == ""
    assert not (out / "summary.json").exists(), "no report of a sweep that did not finish"
    stored = [p.stem for p in (out / "cells").iterdir()]
    assert 1 <= len(stored) < 6, stored
    # Only finished cells are kept: none was stored as failed for the tasks Dask dropped.
    assert SweepDir(out).finished(stored) == set(stored)


def _scheduler_address(path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    raise AssertionError("the scheduler wrote no address")
