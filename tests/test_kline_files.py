"""Binance kline files: s/ms/µs times, headers, zip, duplicates, order, gaps, and real files."""

import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from lstm_bt.binance import find_gaps, infer_interval, read_kline_file, write_kline_csv
from lstm_bt.errors import DataError
from lstm_bt.data.synthetic import random_walk

HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
          "taker_buy_quote_volume,ignore")


@pytest.fixture(scope="module")
def bars():
    return random_walk(48, interval="1h", start="2024-12-31", seed=3)


def binance_lines(frame, unit="ms"):
    """Lines as Binance writes them, open/close times in `unit` ("s" as float, "ms", "us")."""
    lines = []
    for moment, bar in zip(frame.index, frame.itertuples(index=False)):
        open_ms = int(moment.value // 1_000_000)
        close_ms = open_ms + 3_599_999
        if unit == "s":
            opened, closed = f"{open_ms / 1000:.1f}", str(close_ms)
        elif unit == "us":
            opened, closed = str(open_ms * 1000), str(close_ms * 1000 + 999)
        else:
            opened, closed = str(open_ms), str(close_ms)
        lines.append(
            f"{opened},{bar.open:.8f},{bar.high:.8f},{bar.low:.8f},{bar.close:.8f},"
            f"{bar.volume:.8f},{closed},{bar.quote_volume:.8f},{bar.trades},"
            f"{bar.taker_buy_base_volume:.8f},{bar.taker_buy_quote_volume:.8f},0")
    return lines


def write(path, lines, header=False):
    path.write_text("\n".join(([HEADER] if header else []) + lines) + "\n")
    return path


def assert_same_bars(frame, expected):
    pd.testing.assert_index_equal(frame.index, expected.index)
    np.testing.assert_allclose(frame.to_numpy(float), expected.to_numpy(float), rtol=0, atol=1e-8)


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_open_times_in_seconds_milliseconds_or_microseconds_read_the_same(tmp_path, bars, unit):
    frame = read_kline_file(write(tmp_path / "k.csv", binance_lines(bars, unit)))

    assert_same_bars(frame, bars)
    assert frame.index.name == "datetime" and frame["trades"].dtype == "int64"


def test_a_file_switching_from_ms_to_us_midway_reads_as_one_series(tmp_path, bars):
    # Spot archives switch to µs on 2025-01-01: the fixture straddles that day.
    new_year = bars.index.get_loc(pd.Timestamp("2025-01-01"))
    lines = binance_lines(bars[:new_year], "ms") + binance_lines(bars[new_year:], "us")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_kline_file(write(tmp_path / "mixed.csv", lines))

    assert_same_bars(frame, bars)


def test_a_header_row_is_skipped(tmp_path, bars):
    frame = read_kline_file(write(tmp_path / "h.csv", binance_lines(bars), header=True))

    assert_same_bars(frame, bars)


def test_a_data_binance_vision_zip_is_read(tmp_path, bars):
    archive = tmp_path / "BTCUSDT-1h-2024-12.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("BTCUSDT-1h-2024-12.csv", "\n".join(binance_lines(bars)) + "\n")

    assert_same_bars(read_kline_file(archive), bars)


def test_a_zip_of_several_csv_files_reads_them_in_name_order(tmp_path, bars):
    archive = tmp_path / "months.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("b-2025-01.csv", "\n".join(binance_lines(bars[24:], "us")) + "\n")
        zipped.writestr("a-2024-12.csv", "\n".join(binance_lines(bars[:24])) + "\n")

    assert_same_bars(read_kline_file(archive), bars)


def test_duplicate_bars_are_dropped_keeping_the_last_with_a_warning(tmp_path, bars):
    lines = binance_lines(bars)
    restated = lines[10].split(",")
    restated[4] = restated[3]  # the close restated at the bar's low
    doubled_tail = [line for line in lines[-3:] for _ in range(2)]
    lines = lines[:11] + [",".join(restated)] + lines[11:-3] + doubled_tail

    with pytest.warns(UserWarning, match="dropped 4 duplicate bars"):
        frame = read_kline_file(write(tmp_path / "d.csv", lines))

    assert len(frame) == len(bars)
    assert frame.index.is_unique
    assert frame["close"].iloc[10] == float(restated[3])


def test_rows_out_of_order_are_sorted_with_a_warning(tmp_path, bars):
    lines = binance_lines(bars)
    lines[5], lines[20] = lines[20], lines[5]

    with pytest.warns(UserWarning, match="out of order; sorted"):
        frame = read_kline_file(write(tmp_path / "o.csv", lines))

    assert_same_bars(frame, bars)


def test_gaps_are_counted_and_warned_about_but_never_filled(tmp_path, bars):
    lines = binance_lines(bars)
    kept = lines[:5] + lines[8:30] + lines[31:]

    warning = r"2 gaps, 4 missing 1h bars \(first at 2024-12-31 05:00\); left as gaps"
    with pytest.warns(UserWarning, match=warning):
        frame = read_kline_file(write(tmp_path / "g.csv", kept))

    assert len(frame) == len(bars) - 4
    assert find_gaps(frame.index, "1h") == [
        (pd.Timestamp("2024-12-31 05:00"), pd.Timestamp("2024-12-31 07:00"), 3),
        (pd.Timestamp("2025-01-01 06:00"), pd.Timestamp("2025-01-01 06:00"), 1),
    ]


def test_a_complete_file_reads_without_warnings(tmp_path, bars):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_kline_file(write(tmp_path / "ok.csv", binance_lines(bars)))
    assert_same_bars(frame, bars)
    assert find_gaps(frame.index, "1h") == []


def test_the_interval_is_inferred_from_the_bar_spacing(bars):
    assert infer_interval(bars.index).name == "1h"
    assert infer_interval(pd.date_range("2024-01-01", periods=5, freq="15min")).name == "15m"
    assert infer_interval(pd.date_range("2024-01-01", periods=5, freq="MS")).name == "1M"
    with pytest.raises(DataError, match="7 s apart, which is no Binance interval"):
        infer_interval(pd.date_range("2024-01-01", periods=5, freq="7s"))


def test_written_csv_has_a_header_and_12_fields_in_ms_and_reads_back(tmp_path, bars):
    path = tmp_path / "out" / "klines.csv"

    write_kline_csv(path, bars, "1h")

    lines = path.read_text().splitlines()
    assert lines[0] == HEADER
    first = lines[1].split(",")
    assert len(first) == 12
    assert first[0] == "1735603200000" and first[6] == "1735606799999"
    assert_same_bars(read_kline_file(path), bars)


def test_written_csv_keeps_a_truncated_close_time(tmp_path, bars):
    frame = bars.copy()
    frame["close_time"] = frame.index.values.astype("datetime64[ms]").astype(np.int64) + 3_599_999
    frame.iloc[3, frame.columns.get_loc("close_time")] = 1735614581646

    write_kline_csv(tmp_path / "t.csv", frame, "1h")

    assert (tmp_path / "t.csv").read_text().splitlines()[4].split(",")[6] == "1735614581646"


def test_a_file_that_is_not_12_column_klines_is_a_data_error(tmp_path):
    ohlc = tmp_path / "ohlc.csv"
    ohlc.write_text("date,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n")

    with pytest.raises(DataError, match="ohlc.csv: found 5 columns, expected the 12"):
        read_kline_file(ohlc)


@pytest.mark.parametrize("name, content, message", [
    ("fake.zip", b"not a zip archive", "cannot read it as Binance klines"),
    ("binary.csv", bytes(range(256)) * 4, "found 1 columns, expected the 12"),
    ("ragged.csv", b"1,2,3,4,5,6,7,8,9,10,11,12\n1,2,3,4,5,6,7,8,9,10,11,12,13,14\n",
     "cannot read it as Binance klines"),
])
def test_a_file_that_cannot_be_parsed_is_a_data_error(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)

    with pytest.raises(DataError, match=f"{name}: {message}"):
        read_kline_file(tmp_path / name)


def test_a_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="Kline file not found: .*nope.csv"):
        read_kline_file(tmp_path / "nope.csv")


REAL_FILES = {
    # file: (rows, first open, last open, interval, gaps, missing bars) from SOURCES.md
    "btcusdt_1h_2022-2026_rest_raw.csv": (37_923, "2022-01-01", "2026-04-30 03:00", "1h", 1, 1),
    "ethusdt_1h_2022-2026_rest_raw.csv": (37_923, "2022-01-01", "2026-04-30 03:00", "1h", 1, 1),
    "btcusdt_1d_2017-2020_pybinance_raw.csv": (1_061, "2017-08-17", "2020-07-12", "1d", 0, 0),
    "btcusdt_15m_2020H1_pybinance_raw.csv": (18_470, "2020-01-01", "2020-07-12", "15m", 5, 59),
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_binance_files_read_with_the_row_counts_and_gaps_in_sources_md(shared_data, name):
    rows, first, last, interval, gap_count, missing = REAL_FILES[name]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_kline_file(shared_data / name)

    assert len(frame) == rows
    assert (frame.index[0], frame.index[-1]) == (pd.Timestamp(first), pd.Timestamp(last))
    assert infer_interval(frame.index).name == interval
    gaps = find_gaps(frame.index, interval)
    assert (len(gaps), sum(bars for *_, bars in gaps)) == (gap_count, missing)
    assert [str(w.message) for w in caught if "gaps" in str(w.message)] == (
        [f"{name}: {gap_count} gaps, {missing} missing {interval} bars (first at "
         f"{gaps[0][0]:%Y-%m-%d %H:%M}); left as gaps, not filled."] if gaps else [])


@pytest.mark.realdata
def test_real_15m_outages_are_the_maintenance_windows_in_sources_md(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = read_kline_file(shared_data / "btcusdt_15m_2020H1_pybinance_raw.csv", "15m")

    assert [(f"{first:%Y-%m-%d %H:%M}", bars) for first, _, bars in find_gaps(frame.index, "15m")] \
        == [("2020-02-09 02:00", 4), ("2020-02-19 11:45", 23), ("2020-03-04 09:30", 8),
            ("2020-04-25 02:00", 10), ("2020-06-28 02:00", 14)]
