"""The bars of one backtest: a stated interval must agree with the bars' own spacing."""

import pytest

from helpers.cli_runs import lstm_bt, refusal_problem
from lstm_bt.binance import write_kline_csv
from lstm_bt.data.synthetic import random_walk
from lstm_bt.errors import DataError
from lstm_bt.run.backtest_data import load_backtest_data


@pytest.fixture
def hourly():
    return random_walk(400, interval="1h", start="2024-01-01", seed=3)


def test_a_stated_interval_that_contradicts_the_bar_spacing_is_refused(hourly):
    with pytest.raises(DataError, match=r"`interval` 1d contradicts the bars, which are 1h apart"):
        load_backtest_data(hourly, interval="1d")


def test_a_stated_interval_that_agrees_is_kept_and_none_is_read_from_the_bars(hourly):
    assert load_backtest_data(hourly, interval="1h").interval == "1h"
    assert load_backtest_data(hourly).interval == "1h"


def test_an_archive_name_that_contradicts_its_bars_is_refused_at_the_command_line(tmp_path):
    daily = random_walk(400, interval="1d", start="2022-01-01", seed=3)
    path = tmp_path / "BTCUSDT-1h-2022-01.csv"   # named hourly, holding daily bars
    write_kline_csv(path, daily, "1d")
    done = lstm_bt("backtest", "--csv", path, "--quiet")
    assert refusal_problem(done, "`--interval` 1h contradicts the bars, which are 1d apart") is None


@pytest.mark.parametrize("name, symbol, interval", [
    ("BTCUSDT-1h-2024-01.csv", "BTCUSDT", "1h"),           # data.binance.vision
    ("ethusdt_1h_2022-2026_rest_raw.csv", "ETHUSDT", "1h"),  # a REST dump named in lower case
    ("bars.csv", "bars", "1h"),                              # no symbol in the name: the stem
])
def test_a_files_symbol_and_interval_are_read_from_its_name_where_it_gives_them(
        tmp_path, hourly, name, symbol, interval):
    write_kline_csv(tmp_path / name, hourly, "1h")
    bars = load_backtest_data(tmp_path / name)
    assert (bars.symbol, bars.interval) == (symbol, interval)


@pytest.mark.parametrize("path, said", [("/dev/null", "is not a regular file"),
                                        (".", "is a directory")])
def test_a_directory_or_a_device_given_as_a_data_file_is_named_as_such(path, said):
    with pytest.raises(DataError, match=said):
        load_backtest_data(path)


def test_a_warm_up_reaching_before_1970_is_refused_at_the_command_line_before_any_request(
        tmp_path):
    # A billion 1h bars of warm-up: an OverflowError (exit 1) before, now the same refusal as
    # a sweep spec's, before the store is opened or Binance asked.
    done = lstm_bt("backtest", "--symbol", "BTCUSDT", "--interval", "1h", "--start",
                   "2024-01-01", "--train-window", "1000000000", "--base-url",
                   "http://127.0.0.1:9", "--data-dir", tmp_path / "store", "--quiet")
    assert refusal_problem(done, "warm-up before 2024-01-01 00:00, which reaches back before "
                                 "1970 (no klines exist there)") is None
    assert not (tmp_path / "store").exists()
    done = lstm_bt("backtest", "--symbol", "BTCUSDT", "--interval", "1h", "--start",
                   "2024-01-01", "--train-window", "1000000001", "--quiet")
    assert refusal_problem(done, "`--train-window`, expected an integer in [1, 1000000000]") is None
