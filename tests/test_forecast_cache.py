"""Forecast cache: trading-param re-runs replay without training; anything else misses;
damaged entries are rebuilt, never trusted; `--no-cache` bypasses it."""

import logging
import subprocess
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from lstm_bt import run_backtest
from lstm_bt.binance import write_kline_csv
from lstm_bt.cli import main
from lstm_bt.run.forecast_cache import ForecastCache, cache_key
from lstm_bt.strategies import LSTMStrategy
from lstm_bt.data.synthetic import ar1_returns

pytestmark = pytest.mark.slow

TINY = {"seq_len": 8, "train_window": 120, "retrain_every": 48, "epochs": 2, "units": (4,)}
START, END = datetime(2024, 1, 8), datetime(2024, 1, 12)


class OtherInputs(LSTMStrategy):
    """A subclass whose code differs from LSTMStrategy's: its forecasts may differ too."""


@pytest.fixture(scope="module")
def klines():
    return ar1_returns(300, interval="1h", seed=5)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def first(klines, data_dir):
    return backtest(klines, data_dir)


def backtest(klines, data_dir, **changes):
    return run_backtest(klines, symbol="TEST", start=START, end=END, seed=3, data_dir=data_dir,
                        **{**TINY, **changes})


def entries(data_dir):
    root = data_dir / "forecast_cache"
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def test_first_run_trains_and_stores_one_entry(first, data_dir):
    assert first.report["timing"]["cache"] == "miss"
    assert first.report["timing"]["retrains"] == 2
    (entry,) = entries(data_dir)
    assert {p.name for p in entry.iterdir()} == {"forecasts.npz", "training_history.json",
                                                "model.keras", "manifest.json"}


def test_changing_only_trading_params_replays_the_forecasts_without_training(first, klines,
                                                                           data_dir):
    changed = backtest(klines, data_dir, threshold=0.002, sizing="proportional", smooth=2)
    assert changed.report["timing"]["cache"] == "hit"
    assert changed.report["timing"]["retrains"] == 0
    pd.testing.assert_series_equal(changed.forecasts["predicted_close"],
                                   first.forecasts["predicted_close"])
    assert changed.report["params"]["threshold"] == 0.002
    assert len(changed.strategy.training_history) == 2  # restored from the entry


def test_a_hit_with_the_same_params_gives_identical_trades_and_report(first, klines, data_dir):
    again = backtest(klines, data_dir)
    assert again.report["timing"]["cache"] == "hit"
    pd.testing.assert_frame_equal(again.trades, first.trades)
    pd.testing.assert_frame_equal(again.forecasts, first.forecasts)
    pd.testing.assert_frame_equal(again.equity, first.equity)
    assert again.report["metrics"] == first.report["metrics"]
    for section in ("benchmark", "forecast", "data", "params"):
        assert again.report[section] == first.report[section], section
    # The replay ran over the measured bars and the one before (the naive rules' first move):
    # LSTMStrategy reads no earlier bar.
    assert again.strategy.data.buflen() == first.report["data"]["bars"] + 1
    assert first.strategy.data.buflen() > first.report["data"]["bars"]


class TradesOnItsOwnLine(LSTMStrategy):
    """A subclass that may read its own lines: its replay keeps the warm-up history."""


def test_a_subclass_replays_over_the_whole_warm_up_unless_it_says_it_needs_none(klines,
                                                                                tmp_path):
    miss = backtest(klines, tmp_path, strategy=TradesOnItsOwnLine)
    hit = backtest(klines, tmp_path, strategy=TradesOnItsOwnLine)
    assert (miss.report["timing"]["cache"], hit.report["timing"]["cache"]) == ("miss", "hit")
    assert hit.strategy.data.buflen() == miss.strategy.data.buflen() > hit.report["data"]["bars"]
    pd.testing.assert_frame_equal(hit.equity, miss.equity)
    assert TradesOnItsOwnLine.replay_from_start is False and LSTMStrategy.replay_from_start


@pytest.mark.parametrize("change", [
    {"units": (5,)},
    {"seq_len": 9},
    {"retrain_every": 24},
    {"seed": 4},
    {"strategy": OtherInputs},
])
def test_model_params_seed_or_strategy_code_change_the_key(klines, change):
    params = {**dict(LSTMStrategy.params._getitems()), **TINY}
    base = dict(frame=klines, strategy=LSTMStrategy, params=params, seed=3, start=START,
                backend="tensorflow")
    changed = {**base, **{k: v for k, v in change.items() if k in base}}
    changed["params"] = {**params, **{k: v for k, v in change.items() if k in params}}
    assert cache_key(**changed) != cache_key(**base)


def test_trading_params_do_not_change_the_key_but_data_and_backend_do(klines):
    params = {**dict(LSTMStrategy.params._getitems()), **TINY}
    key = cache_key(klines, LSTMStrategy, params, 3, START, "tensorflow")
    trading = {**params, "threshold": 0.01, "sizing": "fixed", "stake": 2.0, "allow_short": True,
               "fraction": 0.5, "scale": 10.0, "smooth": 3}
    assert cache_key(klines, LSTMStrategy, trading, 3, START, "tensorflow") == key
    assert cache_key(klines, LSTMStrategy, params, 3, START, "jax") != key
    nudged = klines.copy()
    nudged.iloc[10, nudged.columns.get_loc("volume")] += 1e-9
    assert cache_key(nudged, LSTMStrategy, params, 3, START, "tensorflow") != key


def test_changed_data_misses_the_cache(first, klines, data_dir):
    nudged = klines.copy()
    nudged.iloc[50, nudged.columns.get_loc("close")] *= 1.001
    assert backtest(nudged, data_dir).report["timing"]["cache"] == "miss"


def test_changed_model_params_miss_the_cache(first, klines, data_dir):
    assert backtest(klines, data_dir, units=(5,)).report["timing"]["cache"] == "miss"


@pytest.mark.parametrize("damaged", ["forecasts.npz", "manifest.json"])
def test_a_truncated_entry_is_rebuilt_not_trusted(klines, tmp_path, caplog, damaged):
    first = backtest(klines, tmp_path)
    (entry,) = entries(tmp_path)
    path = entry / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="lstm_bt.run.forecast_cache"):
        rebuilt = backtest(klines, tmp_path)
    assert rebuilt.report["timing"]["cache"] == "miss"
    assert "damaged" in caplog.text
    pd.testing.assert_frame_equal(rebuilt.forecasts, first.forecasts)
    assert ForecastCache(tmp_path / "forecast_cache").load(entry.name) is not None
    assert backtest(klines, tmp_path).report["timing"]["cache"] == "hit"


def test_cache_off_neither_reads_nor_writes(first, klines, data_dir, tmp_path):
    assert backtest(klines, data_dir, cache=False).report["timing"]["cache"] == "off"
    assert backtest(klines, tmp_path, cache=False).report["timing"]["retrains"] == 2
    assert entries(tmp_path) == []


def test_cli_no_cache_flag_bypasses_the_cache(klines, tmp_path, capsys):
    csv = tmp_path / "TEST-1h.csv"
    write_kline_csv(csv, klines, "1h")
    command = ["backtest", "--csv", str(csv), "--start", "2024-01-08", "--end", "2024-01-12",
               "--data-dir", str(tmp_path / "data"), "--quiet", "--seq-len", "8",
               "--train-window", "120", "--retrain-every", "48", "--epochs", "2",
               "--units", "4"]
    for flags, outcome in ((["--no-cache"], "off"), ([], "miss"), ([], "hit"),
                           (["--no-cache"], "off")):
        assert main(command + flags) == 0
        assert f"forecast cache {outcome}" in capsys.readouterr().out


def test_a_cache_hit_from_the_command_line_imports_no_tensorflow(klines, tmp_path):
    csv = tmp_path / "TEST-1h.csv"
    write_kline_csv(csv, klines, "1h")
    command = ["backtest", "--csv", str(csv), "--start", "2024-01-08", "--end", "2024-01-12",
               "--data-dir", str(tmp_path / "data"), "--quiet", "--seq-len", "8",
               "--train-window", "120", "--retrain-every", "48", "--epochs", "2",
               "--units", "4", "--out", str(tmp_path / "run")]
    code = ("import sys; from lstm_bt.cli import main; code = main(sys.argv[1:]); "
            "print('tensorflow loaded:', 'tensorflow' in sys.modules); sys.exit(code)")
    outputs = []
    for threshold in ("0.001", "0.002"):
        done = subprocess.run([sys.executable, "-c", code, *command, "--threshold", threshold,
                               "--force"], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert "forecast cache miss" in outputs[0] and "tensorflow loaded: True" in outputs[0]
    assert "forecast cache hit" in outputs[1] and "tensorflow loaded: False" in outputs[1]


def test_numpy_integer_params_run_store_and_key_like_plain_ints(klines, tmp_path):
    as_numpy = {"seq_len": np.int64(8), "train_window": np.int64(120),
                "retrain_every": np.int32(48), "epochs": np.int64(1), "smooth": np.int64(2),
                "seed": np.uint32(3)}
    as_ints = {name: int(value) for name, value in as_numpy.items()}
    runs = [run_backtest(klines, symbol="TEST", start=START, end=END, data_dir=tmp_path,
                         units=(4,), **params) for params in (as_numpy, as_ints)]
    assert [run.report["timing"]["cache"] for run in runs] == ["miss", "hit"]
    assert len(entries(tmp_path)) == 1
    pd.testing.assert_frame_equal(runs[1].forecasts, runs[0].forecasts)
    assert runs[0].report["params"] == runs[1].report["params"]
    assert type(runs[0].report["params"]["seq_len"]) is int


@pytest.mark.parametrize("epochs", ["1", "2"])
def test_a_from_rerun_of_a_run_with_fewer_epochs_than_warm_epochs_hits(klines, tmp_path,
                                                                      capsys, epochs):
    csv = tmp_path / "TEST-1h.csv"
    write_kline_csv(csv, klines, "1h")
    data = ["--csv", str(csv), "--data-dir", str(tmp_path / "data"), "--quiet"]
    assert main(["backtest", *data, "--start", "2024-01-08", "--end", "2024-01-12",
                 "--seq-len", "8", "--train-window", "120", "--retrain-every", "500",
                 "--epochs", epochs, "--units", "4", "--out", str(tmp_path / "r1")]) == 0
    assert "forecast cache miss" in capsys.readouterr().out
    assert main(["backtest", "--from", str(tmp_path / "r1" / "report.json"), *data,
                 "--out", str(tmp_path / "r2")]) == 0
    assert "forecast cache hit" in capsys.readouterr().out
    assert len(entries(tmp_path / "data")) == 1


def test_checked_params_hold_the_warm_epochs_that_run():
    assert LSTMStrategy.check_params(epochs=1)["warm_epochs"] == 1
    assert LSTMStrategy.check_params(epochs=5, warm_epochs=4)["warm_epochs"] == 4
