"""`lstm-bt backtest` and `lstm-bt plot`: flags from the strategy, the run directory, refusals.

Refusals: exit status 2, one line on stderr, and no traceback, whatever the mistake; each through
`main()` in the test's process, a few at each stage of a run also as the real command.
"""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers.cli_runs import ROOT, lstm_bt, lstm_bt_all, lstm_bt_in_process, refusal_problem
from matplotlib.image import imread

from lstm_bt.cli import build_parser, main
from lstm_bt.cli.backtest import format_summary
from lstm_bt.cli.strategy_flags import flag_params, strategy_kwargs
from lstm_bt.run.run_params import MAX_CASH
from lstm_bt.run.runner import RUN_MANAGED_PARAMS
from lstm_bt.strategies import LSTMStrategy

TINY = ["--seq-len", "8", "--train-window", "120", "--retrain-every", "48", "--epochs", "2",
        "--units", "4"]
# 2024-01-06 08:00 is the first demo bar with 128 bars of history; this is a day of trading.
DEMO_DAY = ["--demo", "--end", "2024-01-07 08:00", *TINY]


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


def test_summary_columns_stay_apart_for_the_largest_cash():
    keys = {"forecast": {}, "timing": {"retrains": 1, "total_s": 1.0}}
    report = {"data": {"symbol": "X", "interval": "1h", "start": "2024-01-01T00:00:00",
                       "end": "2025-01-01T00:00:00", "bars": 8784},
              "metrics": {"final_value": MAX_CASH}, "benchmark": {"final_value": 1.5 * MAX_CASH},
              **keys}
    (row,) = [line for line in format_summary(report).splitlines() if "Final value" in line]
    assert row.split()[-2:] == ["1,000,000,000,000.00", "1,500,000,000,000.00"]


@pytest.mark.slow
def test_the_largest_cash_runs_without_overflow_and_scales_the_values(tmp_path, capsys):
    out = tmp_path / "run"
    quick = ["--demo", "--end", "2024-01-03 02:00", "--seq-len", "4", "--train-window", "40",
             "--retrain-every", "100", "--epochs", "1", "--units", "2", "--threshold", "0",
             "--allow-short", "--no-cache", "--quiet"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's overflow warnings
        assert main(["backtest", *quick, "--cash", f"{MAX_CASH:g}", "--out", str(out)]) == 0
    assert "overflow" not in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    metrics = report["metrics"]
    assert metrics["final_value"] == pytest.approx(
        MAX_CASH * (1 + metrics["total_return_pct"] / 100), rel=1e-12)
    assert all(value is None or np.isfinite(value) for value in metrics.values())
    assert all((out / name).stat().st_size > 0
               for name in ("equity.png", "forecasts.png", "report.html"))


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
    assert "24/24" in captured.err  # it counts the traded bars, not the warm-up
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
def test_offline_reads_the_store_and_never_the_network(binance_server, tmp_path):
    import inspect

    from lstm_bt.binance import load_klines

    if "offline" not in inspect.signature(load_klines).parameters:
        pytest.skip("load_klines(offline=) of the data layer is not in this tree yet")
    store = ["--data-dir", str(tmp_path / "store")]
    # The warm-up (128 bars) and the day traded, fetched while the network is there.
    assert main(["fetch", "--symbol", "BTCUSDT", "--interval", "1h", "--start",
                 "2023-12-26", "--end", "2024-01-02", "--base-url", binance_server.url,
                 *store, "--quiet"]) == 0
    requests = len(binance_server.klines_requests)
    day = ["backtest", "--symbol", "BTCUSDT", "--interval", "1h", "--end", "2024-01-02", *TINY,
           "--quiet", "--offline", "--base-url", binance_server.url, *store]
    assert main([*day, "--start", "2024-01-01"]) == 0
    assert main([*day, "--start", "2023-06-01"]) == 2  # not in the store: refused, not fetched
    assert len(binance_server.klines_requests) == requests


@pytest.mark.slow
def test_a_strategy_loaded_by_path_takes_its_own_params(tmp_path, monkeypatch, capsys):
    out = tmp_path / "rsi"
    monkeypatch.chdir(ROOT)  # the path as typed in the repository
    # The example's indicators add 33 warm-up bars: the first trade is 161 bars in.
    assert main(["backtest", "--demo", "--end", "2024-01-08 17:00", *TINY, "--quiet",
                 "--strategy-path", "strategies/rsi_macd.py", "--param", "rsi_period=10",
                 "--out", str(out)]) == 0, capsys.readouterr().err
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
        ("bad date", ["--demo", "--start", "yesterday"],
         "invalid value for `--start`: 'yesterday'. Write a UTC date like 2024-01-01"),
        ("start past the data", ["--demo", "--start", "2030-01-01"], "after the last bar"),
        ("end before the data", ["--demo", "--end", "2020-01-01"], "before the first bar"),
        ("too little history", ["--demo", "--start", "2024-01-03"],
         "needs 2060 bars before `--start` 2024-01-03 00:00 (train_window + seq_len), 48 are "
         "available"),
        ("seq_len >= train_window", ["--demo", "--seq-len", "200", "--train-window", "100"],
         "Lower `--seq-len` or raise `--train-window`"),
        ("non-positive epochs", [*DEMO_DAY, "--epochs", "0"], "`--epochs`"),
        ("unknown sizing", [*DEMO_DAY, "--sizing", "allin"], "Did you mean 'all_in'"),
        ("negative commission", ["--demo", "--commission", "-0.1"],
         "argument --commission: expected a fraction in [0, 1)"),
        ("not an integer", ["--demo", "--seq-len", "ten"], "invalid int value: 'ten'"),
        ("unknown --param", ["--demo", "--param", "seq_lenn=3"], "Did you mean 'seq_len'"),
        ("unknown flag", ["--demo", "--seqlen", "3"],
         "unrecognized arguments: --seqlen 3. Did you mean '--seq-len'?"),

        ("no data source", ["--seq-len", "8"], "give --symbol, --interval and --start"),
        ("two data sources", ["--demo", "--csv", three_columns], "pick one data source"),
        ("missing strategy file", ["--demo", "--strategy-path", tmp / "nope.py"],
         "no such file"),
        ("different run in --out", [*DEMO_DAY, "--out", other_run],
         "holds a different run (data.symbol: 'BTCUSDT' there, 'DEMO' now)"),
        ("files in --out", [*DEMO_DAY, "--out", not_a_run], "holds no lstm-bt run"),
    ]


# Refusals at each stage of a run, also run as the real command in its own process: the
# flags, the params checked against the data, --out (a file that cannot be read:
# test_a_binary_file_is_refused_in_one_line).
IN_OWN_PROCESS = ("unknown flag", "too little history", "different run in --out")


def test_every_refusal_is_exit_2_with_one_line_and_no_traceback(tmp_path, capfd, caplog):
    # Every refusal through main() in this process (what it prints at the file descriptors,
    # and what it logs); a few at each stage again as `python -m lstm_bt`.
    refusals = _refusals(tmp_path)
    answers = [lstm_bt_in_process("backtest", *args, capfd=capfd, caplog=caplog)
               for _, args, _ in refusals]
    own = [refusal for refusal in refusals if refusal[0] in IN_OWN_PROCESS]
    assert len(own) == len(IN_OWN_PROCESS)
    answers += lstm_bt_all([("backtest", *args) for _, args, _ in own], workers=len(own))
    failures = [f"{name}: {why}" for (name, _, message), done in zip(refusals + own, answers)
                if (why := refusal_problem(done, message))]
    assert not failures, "\n".join(failures)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(("args", "message"), [
    (["--seqlen", "3"], "unrecognized arguments: --seqlen 3. Did you mean '--seq-len'?"),
    (["--seq", "3"], "unrecognized arguments: --seq 3. Did you mean '--seq-len'?"),
    (["--seed", "-1"], "argument --seed: expected an integer from 0 to 4294967295, got '-1'"),
    (["--seed", "99999999999999999999"], "argument --seed: expected an integer from 0"),
    (["--cash", "inf"], "argument --cash: expected a finite number, got 'inf'"),
    (["--cash", "1e308"], "argument --cash: expected a positive amount of quote currency up "
                          "to 1e12 (more than any account; larger amounts lose their cents"),
    (["--cash", "0"], "argument --cash: expected a positive amount"),
    (["--threshold", "inf"], "argument --threshold: expected a finite number"),
    (["--scale", "inf"], "argument --scale: expected a finite number"),
    (["--slippage", "nan"], "argument --slippage: expected a finite number"),
    (["--param", "fraction=nan"], "invalid value for `--param fraction`: expected a finite "
                                  "number, got 'nan'."),
    (["--units", "4,,4"], "argument --units: expected at least one layer width from 1 to "
                          "4096 like 64 or 64,32, got '4,,4'"),
    (["--units", "none"], "argument --units: expected at least one layer width from 1 to 4096 "
                          "like 64 or 64,32, got 'none'"),
    (["--units", "\u00b2"], "argument --units: expected at least one layer width"),
    (["--units", "99999999999999999999"], "argument --units: expected at least one layer "
                                          "width from 1 to 4096"),
    (["--units", "4097"], "argument --units: expected at least one layer width"),
    (["--dense-units", "8,5000"], "argument --dense-units: expected layer widths from 1 to "
                                  "4096 like 64 or 64,32 (or none), got '8,5000'"),
    (["--param", "units=none"], "invalid value for `--param units`: expected at least one "
                                "layer width from 1 to 4096 like 64 or 64,32, got 'none'."),
    (["--param", "seq_len=x"], "invalid value for `--param seq_len`: 'x'; expected int like "
                               "its default 60."),
])
def test_out_of_range_numbers_and_typos_are_refused_before_any_data_is_read(args, message,
                                                                            capsys):
    # --csv names a file that does not exist: reading any data would be a different error.
    assert main(["backtest", "--csv", "never-read.csv", *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith("lstm-bt: error: ") and error.count("\n") == 1
    assert message in error


def test_a_binary_file_is_refused_in_one_line(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    assert refusal_problem(lstm_bt("backtest", "--csv", binary), "binary.csv") is None


def test_version_comes_from_the_package(capsys):
    from lstm_bt import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"lstm-bt {__version__}"


def test_every_subcommand_takes_verbose_and_quiet():
    subcommands = build_parser()._subparsers._group_actions[0].choices
    for name, subparser in subcommands.items():
        assert {"-v", "--verbose", "-q", "--quiet"} <= set(subparser._option_string_actions), name
    args = build_parser().parse_args(["-v", "plot", "-q", "runs/x"])
    assert args.verbose and args.quiet
    assert build_parser().parse_args(["backtest", "-v", "-q"]).verbose


def test_help_shows_values_as_typed_on_the_command_line():
    help_text = build_parser()._subparsers._group_actions[0].choices["backtest"].format_help()
    assert "`" not in help_text and '"' not in help_text and "(64," not in help_text
    assert "LSTM layer widths, e.g. 64 or 64,32; at least one, each from 1 to 4096" in " ".join(
        help_text.split())
    assert "tuple" not in help_text
    assert "min(--warm-epochs, --epochs)" in " ".join(help_text.split())
    args = build_parser().parse_args(["backtest", "--units", "64", "--dense-units", "64,32"])
    assert (args.units, args.dense_units) == ((64,), (64, 32))
    args = build_parser().parse_args(["backtest", "--units", "4096", "--dense-units", "none"])
    assert (args.units, args.dense_units) == ((4096,), ())


def test_plot_refuses_a_directory_that_is_no_run(tmp_path):
    done = lstm_bt("plot", tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is not a complete run directory" in done.stderr


def test_top_level_help_lists_every_subcommand_without_loading_backtrader():
    code = ("import sys; from lstm_bt.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('loaded:', sorted(m for m in ('backtrader', 'pandas', 'tensorflow') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("backtest", "fetch", "plot", "sweep"):
        assert f"    {name} " in done.stdout
    assert "loaded: []" in done.stdout


@pytest.mark.slow
def test_a_warning_is_one_line_without_the_librarys_source_line(tmp_path, capsys):
    from lstm_bt.binance import write_kline_csv
    from lstm_bt.run.runner import demo_klines

    bars = demo_klines(bars=200)
    path = tmp_path / "gap.csv"
    write_kline_csv(path, bars.drop(bars.index[150]), "1h")
    assert main(["backtest", "--csv", str(path), "--data-dir", str(tmp_path / "data"),
                 "--quiet", *TINY, "--epochs", "1"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert warnings == ["lstm-bt: warning: gap.csv: 1 gaps, 1 missing 1h bars (first at "
                        "2024-01-07 06:00); left as gaps, not filled."]


def test_the_console_script_exits_with_mains_status_after_the_exit_handlers():
    """`run_and_exit` skips the interpreter's teardown, not the exit handlers nor any output."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('exit handlers ran'))\n"
            "from lstm_bt.cli import run_and_exit\n"
            "print('x' * 100_000)\n"  # buffered: lost unless flushed before the exit
            "run_and_exit(['backtest', '--demo', '--seq-len', '0'])\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 2
    assert done.stdout == "x" * 100_000 + "\nexit handlers ran\n"
    assert done.stderr.startswith("lstm-bt: error: ") and "--seq-len" in done.stderr
