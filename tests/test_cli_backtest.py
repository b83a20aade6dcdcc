"""`lstm-bt backtest` and `lstm-bt plot`: flags from the strategy, the run directory, refusals.

Refusals run the real command in a subprocess: exit status 2, one line on stderr, and no
traceback, whatever the mistake.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from lstm_bt.cli import build_parser, main
from lstm_bt.cli.backtest import format_summary
from lstm_bt.cli.strategy_flags import flag_params, strategy_kwargs
from lstm_bt.runner import RUN_MANAGED_PARAMS
from lstm_bt.strategies import LSTMStrategy

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--seq-len", "8", "--train-window", "120", "--retrain-every", "48", "--epochs", "2",
        "--units", "4"]
# 2024-01-06 08:00 is the first demo bar with 128 bars of history; this is a day of trading.
DEMO_DAY = ["--demo", "--end", "2024-01-07 08:00", *TINY]


def lstm_bt(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "lstm_bt", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_every_strategy_param_is_a_flag():
    names = {name for name, _ in LSTMStrategy.params._getitems()} - set(RUN_MANAGED_PARAMS)
    assert {name for name, _ in flag_params(LSTMStrategy)} == names
    help_text = build_parser()._subparsers._group_actions[0].choices["backtest"].format_help()
    for name in names:
        assert "--" + name.replace("_", "-") in help_text


def test_flags_convert_to_the_param_types_and_only_given_ones_are_passed():
    args = build_parser().parse_args(
        ["backtest", "--demo", "--units", "8,4", "--no-warm-start", "--threshold", "0.002",
         "--sizing", "proportional", "--param", "smooth=3"])
    assert strategy_kwargs(args, LSTMStrategy) == {
        "units": (8, 4), "warm_start": False, "threshold": 0.002, "sizing": "proportional",
        "smooth": 3}


@pytest.mark.parametrize("p_value, shown", [(3e-14, "p < 0.001"), (0.0312, "p = 0.031"),
                                             (None, "p = n/a")])
def test_summary_shows_strong_evidence_as_a_number_not_zero(p_value, shown):
    keys = {"metrics": {}, "benchmark": {}, "timing": {"retrains": 1, "total_s": 1.0}}
    report = {"data": {"symbol": "X", "interval": "1h", "start": "2024-01-01T00:00:00",
                       "end": "2024-01-02T00:00:00", "bars": 24},
              "forecast": {"n": 10, "hit_rate": 0.6, "p_value": p_value}, **keys}
    assert shown in format_summary(report)


@pytest.mark.slow
def test_backtest_prints_the_table_writes_the_run_and_plot_redraws_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["backtest", *DEMO_DAY, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert ("DEMO 1h  2024-01-06 08:00 to 2024-01-07 08:00 UTC, end exclusive (24 bars"
            in captured.out)
    assert "Sortino" in captured.out and "buy & hold" in captured.out
    assert "forecast: hit rate" in captured.out
    assert "retrains 1/1" in captured.err and "bar/s" in captured.err  # the progress bar
    assert sorted(p.name for p in out.iterdir()) == [
        "equity.csv", "equity.png", "forecasts.csv", "forecasts.png", "monthly_returns.csv",
        "report.html", "report.json", "trades.csv", "training.json", "training.png"]
    report = json.loads((out / "report.json").read_text())
    assert report["params"]["units"] == [4] and report["params"]["seed"] == 0
    assert (out / "equity.csv").read_text().startswith("datetime,value,benchmark\n")
    assert len((out / "equity.csv").read_text().splitlines()) == 25
    (fit,) = json.loads((out / "training.json").read_text())  # retrains 1/1
    assert fit["window_end"] == "2024-01-06T08:00:00" and len(fit["loss"]) == 2
    assert fit["warm"] is False and fit["fit_s"] > 0

    pngs = ("equity.png", "forecasts.png", "training.png")
    for png in pngs:
        (out / png).unlink()
    assert main(["plot", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [str(out / png) for png in pngs] + [
        str(out / "report.html")]
    for png in pngs:
        pixels = imread(out / png)
        assert pixels.shape[0] > 400 and np.std(pixels) > 0.05

    # A run directory from before training.json: plot redraws what it has, nothing more.
    (out / "training.json").unlink()
    (out / "training.png").unlink()
    assert main(["plot", str(out)]) == 0
    assert not (out / "training.png").exists()


@pytest.mark.slow
def test_quiet_silences_the_progress_bar_and_same_seed_repeats_the_files(tmp_path, capsys):
    for name in ("a", "b"):
        assert main(["backtest", *DEMO_DAY, "--seed", "4", "--quiet", "--out",
                     str(tmp_path / name)]) == 0
        assert "bar/s" not in capsys.readouterr().err
    for name in ("forecasts.csv", "trades.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.slow
def test_binance_source_uses_base_url_and_data_dir(binance_server, tmp_path, capsys):
    assert main(["backtest", "--symbol", "BTCUSDT", "--interval", "1h", "--start", "2024-01-01",
                 "--end", "2024-01-02", *TINY, "--quiet", "--base-url", binance_server.url,
                 "--data-dir", str(tmp_path / "store"), "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "BTCUSDT 1h  2024-01-01 00:00 to 2024-01-02 00:00 UTC, end exclusive (24 bars" in printed
    assert list((tmp_path / "store").iterdir())  # the kline store was filled
    requests = len(binance_server.klines_requests)
    assert main(["backtest", "--symbol", "BTCUSDT", "--interval", "1h", "--start", "2024-01-01",
                 "--end", "2024-01-02", *TINY, "--quiet", "--base-url", binance_server.url,
                 "--data-dir", str(tmp_path / "store")]) == 0
    assert len(binance_server.klines_requests) == requests  # the second run reads the store


@pytest.mark.slow
def test_a_strategy_loaded_by_path_takes_its_own_params(tmp_path):
    out = tmp_path / "rsi"
    # The example's indicators add 33 warm-up bars: the first trade is 161 bars in.
    done = lstm_bt("backtest", "--demo", "--end", "2024-01-08 17:00", *TINY, "--quiet",
                   "--strategy-path", "strategies/rsi_macd.py", "--param", "rsi_period=10",
                   "--out", out)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["params"]["strategy"] == "RsiMacdInputs"
    assert report["params"]["rsi_period"] == 10 and report["params"]["input_warmup"] == 33
    assert report["data"]["start"].startswith("2024-01-07T17:00")
    assert report["data"]["bars"] == 24 and report["forecast"]["n"] > 0


def _write(path, text):
    path.write_text(text)
    return path


def _refusals(tmp):
    """(name, args, part of the message) for every way the command must refuse."""
    other_run = tmp / "other"
    other_run.mkdir()
    _write(other_run / "report.json", json.dumps(
        {"data": {"symbol": "BTCUSDT"}, "params": {"seq_len": 60}}))
    not_a_run = tmp / "mine"
    not_a_run.mkdir()
    _write(not_a_run / "notes.txt", "keep me")
    three_columns = _write(tmp / "three.csv", "1,2,3\n4,5,6\n")
    not_numbers = _write(tmp / "words.csv", "a,b,c,d,e,f,g,h,i,j,k,l\n" * 2
                         + "x,y,z,1,2,3,4,5,6,7,8,9\n")
    fake_zip = _write(tmp / "BTCUSDT-1h-2024-01.zip", "not a zip")
    empty = _write(tmp / "empty.csv", "")
    return [
        ("unknown file", ["--csv", tmp / "missing.csv"], "not found"),
        ("three columns", ["--csv", three_columns], "found 3 columns, expected the 12"),
        ("not numbers", ["--csv", not_numbers], "not a number"),
        ("not a zip", ["--csv", fake_zip], "cannot read it as Binance klines"),
        ("empty file", ["--csv", empty], "holds no klines"),
        ("start after end", ["--demo", "--start", "2024-03-01", "--end", "2024-02-01"],
         "is not before `--end`"),
        ("bad date", ["--demo", "--start", "yesterday"], "Write a UTC date like 2024-01-01"),
        ("start past the data", ["--demo", "--start", "2030-01-01"], "after the last bar"),
        ("end before the data", ["--demo", "--end", "2020-01-01"], "before the first bar"),
        ("too little history", ["--demo", "--start", "2024-01-03"],
         "needs 2060 bars before --start 2024-01-03 00:00 (train_window + seq_len), 48 are "
         "available"),
        ("seq_len >= train_window", ["--demo", "--seq-len", "200", "--train-window", "100"],
         "Lower `seq_len` or raise `train_window`"),
        ("non-positive epochs", [*DEMO_DAY, "--epochs", "0"], "`epochs`"),
        ("unknown sizing", [*DEMO_DAY, "--sizing", "allin"], "Did you mean 'all_in'"),
        ("negative commission", ["--demo", "--commission", "-0.1"], "`commission`"),
        ("not an integer", ["--demo", "--seq-len", "ten"], "invalid int value: 'ten'"),
        ("unknown --param", ["--demo", "--param", "seq_lenn=3"], "Did you mean 'seq_len'"),
        ("unknown flag", ["--demo", "--seqlen", "3"], "unrecognized arguments"),
        ("no data source", ["--seq-len", "8"], "give --symbol, --interval and --start"),
        ("two data sources", ["--demo", "--csv", three_columns], "pick one data source"),
        ("missing strategy file", ["--demo", "--strategy-path", tmp / "nope.py"],
         "no such file"),
        ("different run in --out", [*DEMO_DAY, "--out", other_run],
         "holds a different run (data.symbol: 'BTCUSDT' there, 'DEMO' now)"),
        ("files in --out", [*DEMO_DAY, "--out", not_a_run], "holds no lstm-bt run"),
    ]


def _refused(args, message):
    """Why the command's answer is not a clean refusal, or None if it is one."""
    done = lstm_bt("backtest", *args)
    lines = done.stderr.strip().splitlines()
    if (done.returncode != 2 or len(lines) != 1 or "Traceback" in done.stderr
            or message not in done.stderr or not lines[0].startswith("lstm-bt")):
        return f"exit {done.returncode}, stderr {done.stderr!r}"
    return None


def test_every_refusal_is_exit_2_with_one_line_and_no_traceback(tmp_path):
    failures = [f"{name}: {why}" for name, args, message in _refusals(tmp_path)
                if (why := _refused(args, message))]
    assert not failures, "\n".join(failures)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_binary_file_is_refused_in_one_line(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    assert _refused(["--csv", binary], "binary.csv") is None


def test_plot_refuses_a_directory_that_is_no_run(tmp_path):
    done = lstm_bt("plot", tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is not a complete run directory" in done.stderr
