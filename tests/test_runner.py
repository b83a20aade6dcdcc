"""run_backtest: warm-up before --start, the report's shape, determinism, every data source."""

from datetime import datetime

import pandas as pd
import pytest

from lstm_bt import run_backtest
from lstm_bt.binance import write_kline_csv
from lstm_bt.errors import DataError, InvalidParameter
from lstm_bt.stats import FORECAST_KEYS, METRIC_KEYS
from lstm_bt.data.synthetic import ar1_returns

pytestmark = pytest.mark.slow

TINY = {"seq_len": 8, "train_window": 120, "retrain_every": 48, "epochs": 2, "units": (4,)}
HISTORY = 128  # train_window + seq_len
START = datetime(2024, 1, 8)
END = datetime(2024, 1, 12)


@pytest.fixture(scope="module")
def klines():
    """300 hourly bars from 2024-01-01 (to 2024-01-13 11:00): 168 of them before START."""
    return ar1_returns(300, interval="1h", seed=5)


@pytest.fixture(scope="module")
def result(klines):
    return run_backtest(klines, symbol="TEST", start=START, end=END, seed=3, **TINY)


def test_start_is_the_first_measured_bar_and_end_is_exclusive(result):
    assert result.report["data"] == {"symbol": "TEST", "interval": "1h",
                                     "start": "2024-01-08T00:00:00",
                                     "end": "2024-01-12T00:00:00", "bars": 96,
                                     "source": "frame"}
    assert result.equity.index[0] == START and result.equity.index[-1] == datetime(2024, 1, 11, 23)
    assert len(result.equity) == 96
    assert result.forecasts.index[0] == START and len(result.forecasts) == 96
    assert list(result.equity.columns) == ["value", "benchmark"]
    assert list(result.forecasts.columns) == ["close", "predicted_close", "signal"]


def test_warm_up_history_is_loaded_before_start_and_only_what_is_needed(result, klines):
    feed = result.strategy.data
    first_fed = feed.datetime.datetime(-len(feed) + 1)
    assert first_fed == klines.index[klines.index.get_loc(START) - HISTORY]
    assert len(feed) == HISTORY + 96


def test_report_carries_every_documented_key_and_the_params_used(result):
    report = result.report
    assert set(report) == {"data", "params", "metrics", "benchmark", "forecast", "open_trades",
                           "timing"}
    assert set(report["metrics"]) == set(METRIC_KEYS) == set(report["benchmark"])
    assert set(report["forecast"]) == set(FORECAST_KEYS)
    assert set(report["timing"]) == {"total_s", "train_s", "predict_s", "retrains", "cache"}
    assert report["timing"]["retrains"] == 2  # 96 bars / retrain_every 48
    params = report["params"]
    assert params["seed"] == 3 and params["strategy"] == "LSTMStrategy"
    assert params["commission"] == 0.001 and params["cash"] == 10_000.0
    assert params["seq_len"] == 8 and params["units"] == (4,)
    assert params["threshold"] == "cost"  # an untouched default is recorded too
    assert params["exit_threshold"] == 0.0
    assert params["warm_epochs"] == 2  # warm fits run min(warm_epochs 3, epochs 2)
    assert "start" not in params and "forecasts" not in params


def test_same_data_params_and_seed_give_byte_identical_files(result, klines, tmp_path):
    again = run_backtest(klines, symbol="TEST", start=START, end=END, seed=3, **TINY,
                         out=tmp_path / "b", cache=False)
    from lstm_bt.run.run_dir import write_run_dir

    write_run_dir(tmp_path / "a", result, plots=False)
    for name in ("forecasts.csv", "trades.csv", "equity.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert again.report["metrics"] == result.report["metrics"]


def test_a_kline_file_names_its_symbol_and_interval(klines, tmp_path):
    path = tmp_path / "ETHUSDT-1h-2024-01.csv"
    write_kline_csv(path, klines, "1h")
    from_file = run_backtest(path, start=START, end=datetime(2024, 1, 9), **TINY)
    assert from_file.report["data"]["symbol"] == "ETHUSDT"
    assert from_file.report["data"]["interval"] == "1h"
    assert from_file.report["data"]["bars"] == 24
    assert from_file.report["data"]["source"] == "file"
    assert from_file.report["data"]["path"] == str(path.resolve())


def test_binance_source_fetches_the_warm_up_from_before_start(binance_server, served_btcusdt_1h,
                                                              tmp_path):
    fetched = run_backtest(symbol="BTCUSDT", interval="1h", start="2024-01-01",
                           end="2024-01-02", base_url=binance_server.url, data_dir=tmp_path,
                           **TINY)
    assert fetched.report["data"]["bars"] == 24
    assert fetched.report["data"]["source"] == "binance"
    assert fetched.report["data"]["base_url"] == binance_server.url.rstrip("/")
    asked_from = min(int(r.params["startTime"]) for r in binance_server.klines_requests)
    first_needed = served_btcusdt_1h.index.get_loc(pd.Timestamp("2024-01-01")) - HISTORY
    assert pd.Timestamp(asked_from, unit="ms") == served_btcusdt_1h.index[first_needed]


def test_without_dates_the_run_spans_the_data_after_the_warm_up(klines):
    whole = run_backtest(klines, **TINY)
    assert whole.report["data"]["start"] == klines.index[HISTORY].isoformat()
    assert whole.report["data"]["end"] == "2024-01-13T12:00:00"  # the last bar's end
    assert whole.report["data"]["bars"] == 300 - HISTORY


def test_an_end_past_the_data_is_reported_as_the_end_of_the_data(klines):
    report = run_backtest(klines, start="2024-01-13", end="2024-03-01", **TINY).report
    assert report["data"]["end"] == "2024-01-13T12:00:00"
    assert report["data"]["bars"] == 12


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-01-03", None, r"needs 128 bars before `start` 2024-01-03 00:00 \(train_window "
                             r"\+ seq_len\), 48 are available.*start at 2024-01-06 08:00 or "
                             r"later.*lower `train_window` / `seq_len`"),
        ("2024-02-01", None, r"`start` 2024-02-01 00:00 is after the last bar: the data "
                             r"covers 2024-01-01 00:00 to 2024-01-13 11:00"),
        (None, "2023-12-01", r"`end` 2023-12-01 00:00 is before the first bar"),
    ],
)
def test_dates_the_data_cannot_serve_are_refused_before_any_training(klines, start, end,
                                                                     message):
    with pytest.raises(DataError, match=message):
        run_backtest(klines, start=start, end=end, **TINY)


def test_start_after_end_is_refused(klines):
    with pytest.raises(InvalidParameter, match="`start`.*is not before `end`"):
        run_backtest(klines, start="2024-01-09", end="2024-01-08", **TINY)


def test_library_errors_name_the_python_argument_not_the_flag(klines):
    with pytest.raises(InvalidParameter) as caught:
        run_backtest(klines, start="x", **TINY)
    assert "`start`" in str(caught.value) and "--start" not in str(caught.value)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"seq_lenn": 8}, r"no param 'seq_lenn'\. Did you mean 'seq_len'\?"),
        ({"seq_len": 200}, r"`seq_len`, expected fewer bars than `train_window`"),
        ({"cash": 0}, r"`cash`, expected a positive amount"),
        ({"cash": float("inf")}, r"`cash`, expected a positive amount"),
        ({"seed": -1}, r"`seed`, expected an integer in \[0, 4294967295\]"),
        ({"seed": 2**64}, r"`seed`, expected an integer in \[0, 4294967295\]"),
        ({"commission": 1.5}, r"`commission`, expected a fraction in \[0, 1\)"),
        ({"slippage": -0.1}, r"`slippage`, expected a fraction"),
        ({"sizing": "allin"}, r"`sizing`.*Did you mean 'all_in'"),
    ],
)
def test_invalid_params_are_refused_naming_the_param(klines, params, message):
    with pytest.raises(InvalidParameter, match=message):
        run_backtest(klines, start=START, **{**TINY, **params})
