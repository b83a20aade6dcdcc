"""One rule for every kline source (`lstm_bt.data.kline_frame`): files, a user's frame, the feed and
the command refuse a bar that cannot be one, naming the first bad row and the fix."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from lstm_bt import run_backtest
from lstm_bt.binance import read_kline_file, write_kline_csv
from lstm_bt.errors import DataError
from lstm_bt.feeds import BinanceKlines
from lstm_bt.data.kline_frame import validate_kline_frame
from lstm_bt.data.synthetic import random_walk

ROOT = Path(__file__).resolve().parent.parent
BAD_FIELDS = {
    # name: (field index in the Binance row, value written, what the error says)
    "nan_close": (4, "NaN", "close is nan; prices must be finite and positive"),
    "zero_close": (4, "0", "close is 0; prices must be finite and positive"),
    "inf_close": (4, "inf", "close is inf; prices must be finite and positive"),
    "open_time_1e30": (0, "1e30", "open time 1e+27 ms is not between 1970 and 2100"),
    "open_time_minus_5": (0, "-5", "open time -5000 ms is not between 1970 and 2100"),
    "negative_open": (1, "-3", "open is -3; prices must be finite and positive"),
    "high_below_low": (2, "0.5", "high 0.5; a bar needs low <= open, close <= high"),
    "negative_volume": (5, "-1", "volume is -1; it must be finite and >= 0"),
}


@pytest.fixture(scope="module")
def bars():
    return random_walk(200, interval="1h", start="2024-01-01", seed=5)


@pytest.fixture(scope="module")
def good_lines(bars, tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.csv"
    write_kline_csv(path, bars, "1h")
    return path.read_text().splitlines()


def bad_csv(lines, directory, name, line=101):
    """The good file with one field of `line` (1-based, the header is line 1) replaced."""
    field, value, _ = BAD_FIELDS[name]
    lines = list(lines)
    fields = lines[line - 1].split(",")
    fields[field] = value
    lines[line - 1] = ",".join(fields)
    path = Path(directory) / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name", sorted(BAD_FIELDS))
def test_a_kline_file_with_a_bar_that_cannot_be_is_refused_naming_the_line(
        good_lines, tmp_path, name):
    path = bad_csv(good_lines, tmp_path, name)

    with pytest.raises(DataError) as caught:
        read_kline_file(path)

    message = str(caught.value)
    assert message.startswith(f"{name}.csv: line 101")
    assert BAD_FIELDS[name][2] in message
    assert message.endswith("fix or remove that row.")


def test_a_bad_bar_inside_a_zip_names_the_member_and_line(good_lines, tmp_path):
    archive = tmp_path / "BTCUSDT-1h-2024-01.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(bad_csv(good_lines, tmp_path, "nan_close", line=7), "BTCUSDT-1h-2024-01.csv")

    with pytest.raises(DataError, match=r"BTCUSDT-1h-2024-01.zip:BTCUSDT-1h-2024-01.csv: line 7 "
                                        r"\(open 2024-01-01 05:00\): close is nan"):
        read_kline_file(archive)


def test_a_field_that_is_no_number_is_refused(good_lines, tmp_path):
    lines = list(good_lines)
    lines[3] = lines[3].replace(lines[3].split(",")[4], "12o.5", 1)
    (tmp_path / "typo.csv").write_text("\n".join(lines) + "\n")

    with pytest.raises(DataError, match="typo.csv: a field is not a number"):
        read_kline_file(tmp_path / "typo.csv")


@pytest.mark.parametrize("row, column, value, message", [
    (5, "close", np.nan, "row 5 (open 2024-01-01 05:00): close is nan"),
    (7, "low", 1e9, "row 7 (open 2024-01-01 07:00): low 1e+09"),
    (9, "trades", -1, "row 9 (open 2024-01-01 09:00): trades is -1"),
])
def test_a_users_frame_with_a_bad_bar_is_refused_by_run_backtest(bars, row, column, value,
                                                                  message):
    frame = bars.copy()
    frame.iloc[row, frame.columns.get_loc(column)] = value

    with pytest.raises(DataError, match="^" + re.escape(f"the kline frame: {message}")):
        run_backtest(frame, seq_len=4, train_window=20, epochs=1, units=(4,), cache=False)


def test_missing_or_repeated_open_times_are_refused(bars):
    no_time = bars.copy()
    no_time.index = no_time.index.where(np.arange(len(bars)) != 4, pd.NaT)
    repeated = pd.concat([bars.iloc[:10], bars.iloc[9:12]])

    with pytest.raises(DataError, match="row 4: no open time"):
        validate_kline_frame(no_time)
    with pytest.raises(DataError, match=r"row 10 \(open 2024-01-01 09:00\) repeats an earlier"):
        validate_kline_frame(repeated)
    assert validate_kline_frame(bars) is bars


def test_the_feed_refuses_a_frame_with_a_bad_bar(bars):
    frame = bars.copy()
    frame.iloc[3, 0] = -1.0
    cerebro = bt.Cerebro()
    cerebro.adddata(BinanceKlines(dataname=frame, interval="1h"))

    with pytest.raises(DataError, match=r"BinanceKlines\(dataname=DataFrame\): row 3 .*open is -1"):
        cerebro.run()


@pytest.mark.parametrize("name", ["nan_close", "open_time_1e30"])
def test_backtest_csv_with_a_bad_bar_exits_2_in_one_line(good_lines, tmp_path, name):
    path = bad_csv(good_lines, tmp_path, name)

    result = subprocess.run(
        [sys.executable, "-m", "lstm_bt", "backtest", "--csv", str(path), "--seq-len", "4",
         "--train-window", "20", "--epochs", "1", "--units", "4", "--out", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"lstm-bt: error: {name}.csv: line 101")
    assert BAD_FIELDS[name][2] in lines[0]
    assert not (tmp_path / "run").exists()
