"""`lstm-bt fetch` as a user runs it: a real process, a real server on 127.0.0.1."""

import functools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lstm_bt import cli
from lstm_bt.binance import BinanceClient, read_kline_file
from lstm_bt.cli import fetch as fetch_command

ROOT = Path(__file__).resolve().parent.parent
YEAR_2024 = ("--start", "2024-01-01", "--end", "2025-01-01")


CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def command(*args):
    return [sys.executable, "-m", "lstm_bt", *args]


def lstm_bt(*args):
    return subprocess.run(command(*args), cwd=ROOT, env=CHILD_ENV, capture_output=True,
                          text=True, timeout=120)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lstm-bt: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_fetch_stores_the_year_prints_a_summary_and_writes_the_csv(binance_server, tmp_path):
    csv_out = tmp_path / "out" / "btc.csv"

    result = lstm_bt("fetch", "--symbol", "BTCUSDT", "--interval", "1h", *YEAR_2024,
                     "--base-url", binance_server.url, "--data-dir", str(tmp_path / "feeds"),
                     "--csv-out", str(csv_out))

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not a tty: no progress bar
    assert result.stdout.startswith(
        "BTCUSDT 1h: 8784 bars from 2024-01-01 00:00 to 2025-01-01 00:00")
    assert "(8784 fetched in 9 requests)" in result.stdout
    assert (tmp_path / "feeds" / "klines.sqlite").is_file()
    assert csv_out.read_text().startswith("open_time,open,high,low,close,volume,close_time,")
    assert len(read_kline_file(csv_out)) == 8784


def test_fetch_again_makes_no_request(binance_server, tmp_path):
    args = ("fetch", "--symbol", "BTCUSDT", "--interval", "1h", *YEAR_2024,
            "--base-url", binance_server.url, "--data-dir", str(tmp_path))
    lstm_bt(*args)

    again = lstm_bt(*args)

    assert "8784 bars" in again.stdout and "(0 fetched in 0 requests)" in again.stdout
    assert len(binance_server.log) == 9


def test_unknown_symbol_exits_2_with_one_line_naming_the_fix(binance_server, tmp_path):
    result = lstm_bt("fetch", "--symbol", "BTCUSD", "--interval", "1h", "--start", "2024-01-01",
                     "--base-url", binance_server.url, "--data-dir", str(tmp_path))

    assert_one_line_error(result, "Unknown symbol 'BTCUSD'", "Check the spelling, e.g. BTCUSDT")


def test_malformed_symbol_exits_2_before_any_request(binance_server, tmp_path):
    result = lstm_bt("fetch", "--symbol", "btc/usdt", "--interval", "1h", "--start", "2024-01-01",
                     "--base-url", binance_server.url, "--data-dir", str(tmp_path))

    assert_one_line_error(result, "`--symbol`: 'btc/usdt'", "e.g. BTCUSDT")
    assert binance_server.log == []


def test_bad_interval_exits_2_listing_the_valid_ones(tmp_path):
    result = lstm_bt("fetch", "--symbol", "BTCUSDT", "--interval", "1H", "--start", "2024-01-01",
                     "--data-dir", str(tmp_path))

    assert_one_line_error(result, "'1H'", "1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M")


def test_start_after_end_exits_2_saying_which_way_round(tmp_path):
    result = lstm_bt("fetch", "--symbol", "BTCUSDT", "--interval", "1h",
                     "--start", "2025-01-01", "--end", "2024-01-01", "--data-dir", str(tmp_path))

    assert_one_line_error(result, "`--start` 2025-01-01 00:00 is not before `--end` 2024-01-01",
                          "give an end after the start")


def test_unparsable_date_exits_2_showing_the_form(tmp_path):
    result = lstm_bt("fetch", "--symbol", "BTCUSDT", "--interval", "1h", "--start", "01/02/2024",
                     "--data-dir", str(tmp_path))

    assert_one_line_error(result, "`--start`: '01/02/2024'", "like 2024-01-01")


def test_a_negative_warmup_exits_2_before_any_request(binance_server, tmp_path):
    result = lstm_bt("fetch", "--symbol", "BTCUSDT", "--interval", "1h", "--start", "2024-01-01",
                     "--warmup", "-1", "--base-url", binance_server.url,
                     "--data-dir", str(tmp_path))

    assert_one_line_error(result, "`--warmup`, expected an integer >= 0 (bars of history "
                                  "before --start, e.g. 2060), got -1.")
    assert binance_server.log == []


def test_unreachable_host_exits_2_pointing_at_base_url(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(fetch_command, "BinanceClient",
                        functools.partial(BinanceClient, backoff=0.001))

    status = cli.main(["fetch", "--symbol", "BTCUSDT", "--interval", "1h",
                       "--start", "2024-01-01", "--base-url", "http://127.0.0.1:9",
                       "--data-dir", str(tmp_path)])

    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "Cannot reach http://127.0.0.1:9" in error and "--base-url" in error


def test_a_killed_fetch_resumes_with_the_same_rows_and_no_duplicates(binance_server, tmp_path):
    args = ("fetch", "--symbol", "BTCUSDT", "--interval", "1h", *YEAR_2024, "--quiet",
            "--base-url", binance_server.url, "--data-dir", str(tmp_path))
    # Four pages are answered, then the server stops answering: the fetch is killed while it
    # waits to retry the fifth, however fast or slow the machine is.
    binance_server.go_down_after(4)
    process = subprocess.Popen(command(*args), cwd=ROOT, env=CHILD_ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while (not any(request.status is None for request in binance_server.log)
           and process.poll() is None and time.monotonic() < deadline):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    answered_before_kill = sum(request.status == 200 for request in binance_server.log)
    assert answered_before_kill == 4
    requests_before_resume = len(binance_server.log)

    binance_server.go_down_after(None)
    resumed = lstm_bt(*args)

    assert resumed.returncode == 0, resumed.stderr
    assert "8784 bars" in resumed.stdout
    # 8784 bars are 9 pages of 1000: the 4 stored are not asked for again.
    assert len(binance_server.log) - requests_before_resume == 9 - answered_before_kill
    with sqlite3.connect(tmp_path / "klines.sqlite") as database:
        assert database.execute("SELECT COUNT(*), COUNT(DISTINCT open_time) FROM klines"
                                ).fetchone() == (8784, 8784)


@pytest.mark.parametrize("flag", ["--symbol", "--interval", "--start"])
def test_a_missing_required_flag_exits_2_in_one_line(flag, tmp_path):
    args = {"--symbol": "BTCUSDT", "--interval": "1h", "--start": "2024-01-01"}
    del args[flag]

    result = lstm_bt("fetch", *[part for pair in args.items() for part in pair],
                     "--data-dir", str(tmp_path))

    assert_one_line_error(result, flag, "--help")
