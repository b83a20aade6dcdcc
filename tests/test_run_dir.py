"""The run directory: fixed-format files, read back as written, never overwriting another run."""

import errno
import json
import os
import stat
import subprocess
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from lstm_bt.errors import DataError
from lstm_bt.run.run_files import EQUITY_PNG, FORECASTS_PNG, REPORT_HTML, TRAINING_PNG
from lstm_bt.run.run_dir import (
    RUN_FILES,
    RunDirInUse,
    RunRecord,
    check_run_dir,
    claim_run_dir,
    read_run_dir,
    to_json_value,
    write_plots,
    write_run_dir,
)

from helpers.fs_faults import small_disk

# Two fits as `LSTMStrategy.training_history` records them: a cold one with validation, a warm
# one without (an empty `val_loss`), and a diverged epoch (NaN).
TRAINING = [
    {"window_end": datetime(2024, 1, 1, 2), "loss": [0.5, 0.25, 0.125],
     "val_loss": [0.75, 0.5, 0.375], "warm": False, "fit_s": 1.5},
    {"window_end": datetime(2024, 1, 1, 4), "loss": [0.2, float("nan")], "val_loss": [],
     "warm": True, "fit_s": 0.25},
]


def _record(seq_len=8, value_noise=0.0, training=()):
    index = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=5, freq="h"), name="datetime")
    equity = pd.DataFrame(
        {"value": [10_000.0, 10_010.123456789, 9_990.5 + value_noise, 10_020.0, 10_031.25],
         "benchmark": [10_000.0, 10_005.0, 10_001.0, 9_999.0, 10_040.0]},
        index=index,
    )
    forecasts = pd.DataFrame(
        {"close": [30_000.5, 30_010.25, 29_990.0, 30_020.0, 30_031.0],
         "predicted_close": [30_001.0, 30_000.0, 30_000.0, 30_030.0, np.nan],
         "signal": [1, -1, 1, 1, 0]},
        index=index,
    )
    trades = pd.DataFrame(
        {"open_datetime": index[:2], "close_datetime": index[1:3], "side": ["long", "short"],
         "entry_price": [30_000.5, 30_010.25], "exit_price": [30_010.25, 29_990.0],
         "size": [0.1, 0.2], "pnl": [1.5, -0.25], "pnl_comm": [1.0, -0.75]}
    )
    report = {
        "data": {"symbol": "DEMO", "interval": "1h", "start": "2024-01-01T00:00:00",
                 "end": "2024-01-01T05:00:00", "bars": 5},
        "params": {"seq_len": seq_len, "seed": 0, "cash": 10_000.0},
        "metrics": {"sharpe": np.float64(1.25), "sortino": float("nan"), "trades": np.int64(2)},
        "benchmark": {"sharpe": float("inf")},
        "forecast": {"n": 4},
        "timing": {"total_s": 1.0},
    }
    return RunRecord(report=report, equity=equity, trades=trades, forecasts=forecasts,
                     training=list(training))


def test_written_run_reads_back_with_nulls_for_undefined_values(tmp_path):
    record = _record()
    write_run_dir(tmp_path / "run", record, plots=False)
    back = read_run_dir(tmp_path / "run")
    assert back.report["metrics"] == {"sharpe": 1.25, "sortino": None, "trades": 2}
    assert back.report["benchmark"]["sharpe"] is None
    pd.testing.assert_frame_equal(back.equity, record.equity, check_freq=False)
    pd.testing.assert_frame_equal(back.forecasts, record.forecasts, check_freq=False)
    assert list(back.trades.columns) == list(record.trades.columns)
    assert len(back.trades) == 2


def test_csv_files_have_the_documented_headers_and_fixed_float_format(tmp_path):
    write_run_dir(tmp_path, _record(), plots=False)
    equity_lines = (tmp_path / "equity.csv").read_text().splitlines()
    assert equity_lines[0] == "datetime,value,benchmark"
    assert equity_lines[2] == "2024-01-01 01:00:00,10010.12346,10005"
    forecast_lines = (tmp_path / "forecasts.csv").read_text().splitlines()
    assert forecast_lines[0] == "datetime,close,predicted_close,signal"
    assert forecast_lines[-1] == "2024-01-01 04:00:00,30031,,0"


def test_training_history_is_written_as_json_and_read_back(tmp_path):
    write_run_dir(tmp_path, _record(training=TRAINING), plots=False)
    written = json.loads((tmp_path / "training.json").read_text())
    assert written[0] == {"window_end": "2024-01-01T02:00:00", "loss": [0.5, 0.25, 0.125],
                          "val_loss": [0.75, 0.5, 0.375], "warm": False, "fit_s": 1.5}
    assert written[1]["loss"] == [0.2, None]  # a diverged epoch is null, never invalid JSON
    back = read_run_dir(tmp_path).training
    assert [fit["window_end"] for fit in back] == [fit["window_end"] for fit in TRAINING]
    assert back[0] == TRAINING[0]


def test_a_run_without_fits_writes_an_empty_training_list(tmp_path):
    write_run_dir(tmp_path, _record(), plots=False)
    assert (tmp_path / "training.json").read_text() == "[]\n"
    assert read_run_dir(tmp_path).training == []


def test_a_run_directory_from_before_training_json_still_reads(tmp_path):
    write_run_dir(tmp_path, _record(training=TRAINING), plots=False)
    (tmp_path / "training.json").unlink()
    assert read_run_dir(tmp_path).training == []


def test_a_malformed_training_json_makes_an_incomplete_run_directory(tmp_path):
    write_run_dir(tmp_path, _record(), plots=False)
    (tmp_path / "training.json").write_text('[{"loss": [1.0]}]')
    with pytest.raises(DataError, match="not a complete run directory.*window_end"):
        read_run_dir(tmp_path)


def test_plots_include_the_training_loss_only_when_a_model_was_fit(tmp_path):
    drawn = write_plots(tmp_path, _record(training=TRAINING))
    assert [path.name for path in drawn] == [
        "equity.png", "forecasts.png", "training.png", "report.html"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "equity.png", "forecasts.png", "report.html", "training.png"]
    # A replay without history: no loss plot, no error, and none left from an earlier run.
    drawn = write_plots(tmp_path, _record())
    assert [path.name for path in drawn] == ["equity.png", "forecasts.png", "report.html"]
    assert not (tmp_path / "training.png").exists()


def test_run_files_name_every_file_a_run_writes(tmp_path):
    write_run_dir(tmp_path, _record(training=TRAINING))
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(RUN_FILES)


def test_same_record_twice_gives_byte_identical_files(tmp_path):
    write_run_dir(tmp_path / "a", _record(training=TRAINING), plots=False)
    write_run_dir(tmp_path / "b", _record(training=TRAINING), plots=False)
    for name in ("report.json", "equity.csv", "trades.csv", "forecasts.csv", "training.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_same_run_may_be_written_again_into_its_directory(tmp_path):
    write_run_dir(tmp_path, _record(), plots=False)
    write_run_dir(tmp_path, _record(value_noise=1.0), plots=False)
    assert read_run_dir(tmp_path).equity["value"].iloc[2] == pytest.approx(9_991.5)


def test_directory_holding_a_different_run_is_refused_naming_the_difference(tmp_path):
    write_run_dir(tmp_path, _record(seq_len=8), plots=False)
    with pytest.raises(RunDirInUse, match=r"params\.seq_len: 8 there, 16 now.*`force`"):
        write_run_dir(tmp_path, _record(seq_len=16), plots=False)
    assert json.loads((tmp_path / "report.json").read_text())["params"]["seq_len"] == 8


def test_a_refused_run_leaves_the_held_runs_training_in_place(tmp_path):
    write_run_dir(tmp_path, _record(seq_len=8, training=TRAINING), plots=False)
    with pytest.raises(RunDirInUse, match="holds a different run"):
        write_run_dir(tmp_path, _record(seq_len=16), plots=False)
    assert len(read_run_dir(tmp_path).training) == 2


def test_force_overwrites_a_different_run(tmp_path):
    write_run_dir(tmp_path, _record(seq_len=8, training=TRAINING))
    write_run_dir(tmp_path, _record(seq_len=16), force=True)
    back = read_run_dir(tmp_path)
    assert back.report["params"]["seq_len"] == 16
    # The forced-over run's fits and loss plot are gone with it.
    assert back.training == [] and not (tmp_path / "training.png").exists()


def test_non_empty_directory_without_a_report_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunDirInUse, match="holds no lstm-bt run"):
        check_run_dir(tmp_path, _record().report)


def test_out_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("")
    with pytest.raises(RunDirInUse, match="is a file"):
        check_run_dir(tmp_path / "out", _record().report)


def test_missing_directory_is_accepted_and_created_when_written(tmp_path):
    assert not check_run_dir(tmp_path / "a" / "b", _record().report).exists()
    write_run_dir(tmp_path / "a" / "b", _record(), plots=False)
    assert (tmp_path / "a" / "b" / "report.json").is_file()


def test_json_values_are_plain_python():
    converted = to_json_value({"a": np.float32(0.5), "b": [np.int8(3), float("-inf")],
                               "c": pd.Timestamp("2024-01-01")})
    assert converted == {"a": 0.5, "b": [3, None], "c": "2024-01-01T00:00:00"}
    json.dumps(converted, allow_nan=False)


def test_a_run_that_fails_while_writing_leaves_the_held_run_whole(tmp_path):
    with small_disk(tmp_path / "disk", size="64k") as disk:
        write_run_dir(disk / "run", _record(), plots=False)
        before = {p.name: p.read_bytes() for p in (disk / "run").iterdir()}
        with pytest.raises(OSError) as caught:  # the PNGs do not fit
            write_run_dir(disk / "run", _record(training=TRAINING), plots=True)
        assert caught.value.errno == errno.ENOSPC
        assert {p.name: p.read_bytes() for p in (disk / "run").iterdir()} == before
        assert sorted(p.name for p in disk.iterdir()) == ["run"]  # no half-built sibling


def test_a_run_that_fails_while_writing_a_new_directory_leaves_none(tmp_path):
    with small_disk(tmp_path / "disk", size="64k") as disk:
        with pytest.raises(OSError):
            write_run_dir(disk / "run", _record(training=TRAINING), plots=True)
        assert list(disk.iterdir()) == []


def test_the_run_directory_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_run_dir(tmp_path / "run", _record(), plots=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "run" / "report.json").stat().st_mode) == 0o640


_HOLD = """
import sys, time
from lstm_bt.run.run_dir import claim_run_dir
claim = claim_run_dir(sys.argv[1], {"data": {}, "params": {}})
print("held", flush=True)
time.sleep(60)
"""


def test_a_claimed_directory_is_refused_to_a_second_run_until_its_holder_dies(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirInUse, match=rf"being written by another lstm-bt run \(pid "
                                              rf"{holder.pid}\)"):
            claim_run_dir(out, _record().report)
        (tmp_path / f".run.lstm-bt-{holder.pid}-dead").mkdir()  # its half-built files
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        holder.wait()
    with claim_run_dir(out, _record().report):
        assert not (tmp_path / f".run.lstm-bt-{holder.pid}-dead").exists()
        write_run_dir(out, _record(), plots=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the lock file is gone too


def test_lstm_bt_plot_redraws_the_same_pictures_in_a_fresh_process(tmp_path):
    from helpers.cli_runs import lstm_bt

    out = write_run_dir(tmp_path / "run", _record(training=TRAINING))
    first = {name: (out / name).read_bytes() for name in (EQUITY_PNG, FORECASTS_PNG, TRAINING_PNG)}
    (out / REPORT_HTML).unlink()
    for name in first:
        (out / name).unlink()
    done = lstm_bt("plot", out)
    assert done.returncode == 0, done.stderr
    assert {name: (out / name).read_bytes() for name in first} == first
    html = (out / REPORT_HTML).read_text(encoding="utf-8")
    assert "Bokeh" in html and "DEMO" in html


def test_a_picture_that_cannot_be_written_raises_its_error(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        write_plots(tmp_path / "a-file", _record(training=TRAINING))
