"""A Binance server that answers wrongly or slowly, on 127.0.0.1: nothing wrong is stored, no
range is marked fetched beyond what arrived, no fetch loops or hangs, and a later good fetch
fills the range."""

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from lstm_bt.binance import BinanceClient, KlineStore, load_klines, update_store
from lstm_bt.data.dates import to_ms
from lstm_bt.errors import BinanceError, DataError, InvalidParameter, NetworkError
from lstm_bt.strategies import LSTMStrategy

ROOT = Path(__file__).resolve().parent.parent
# 1,416 bars: one full page and a short one.
WINDOW = (to_ms(pd.Timestamp("2024-01-01")), to_ms(pd.Timestamp("2024-02-29")))
WINDOW_ARGS = ("--start", "2024-01-01", "--end", "2024-02-29")


def fetch(server, data_dir, **options):
    options.setdefault("backoff", 0.001)
    with KlineStore.in_dir(data_dir) as store, BinanceClient(server.url, **options) as client:
        update_store(store, client, "BTCUSDT", "1h", *WINDOW)
        return store.read_frame("BTCUSDT", "1h", *WINDOW), client


def stored_and_missing(data_dir):
    with KlineStore.in_dir(data_dir) as store:
        return (store.count("BTCUSDT", "1h", 0, 2**62),
                store.missing_ranges("BTCUSDT", "1h", *WINDOW))


def lstm_bt(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "lstm_bt", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstm-bt: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("kind, problem", [
    ("future_row", "row 999 opens at 2100-01-01 00:00, after the endTime asked for"),
    ("past_end_time", "1050 rows, more than the 1000 asked for"),
    ("reversed", "rows out of order: row 1 opens at 2024-02-11 14:00, not after row 0"),
    ("ignore_start_time", "before the startTime asked for (2024-01-01 00:00): the server "
                          "ignores startTime"),
    ("nan_close", "row 500 (open 2024-01-21 20:00): close is nan; prices must be finite"),
])
def test_a_wrong_page_is_asked_again_then_refused_storing_nothing_and_a_good_server_fills_it(
        binance_server, served_btcusdt_1h, tmp_path, kind, problem):
    binance_server.misbehave(kind, times=None)

    with pytest.raises(BinanceError, match="cannot be right, twice") as caught:
        fetch(binance_server, tmp_path)

    assert problem in str(caught.value)
    assert "Nothing from these answers was stored" in str(caught.value)
    assert len(binance_server.klines_requests) == 2  # asked once more, never in a loop
    assert stored_and_missing(tmp_path) == (0, [WINDOW])

    binance_server.heal()
    frame, _ = fetch(binance_server, tmp_path)

    pd.testing.assert_frame_equal(
        frame, served_btcusdt_1h.loc["2024-01-01":"2024-02-28 23:00"], check_freq=False,
        check_index_type=False, check_exact=False, atol=1e-8, rtol=0)


def test_one_wrong_answer_is_repaired_by_asking_again(binance_server, tmp_path):
    binance_server.misbehave("future_row")

    frame, client = fetch(binance_server, tmp_path)

    assert len(frame) == 1416 and frame.index[-1] == pd.Timestamp("2024-02-28 23:00")
    assert client.requests_made == 3
    assert stored_and_missing(tmp_path) == (1416, [])


def test_fetch_of_a_page_with_a_row_in_2100_exits_2_and_a_later_good_fetch_stores_every_bar(
        binance_server, tmp_path):
    args = ("fetch", "--symbol", "BTCUSDT", "--interval", "1h", *WINDOW_ARGS, "--quiet",
            "--base-url", binance_server.url, "--data-dir", str(tmp_path))
    binance_server.misbehave("future_row", times=None)

    refused = lstm_bt(*args)

    assert_one_line_error(refused, "answered BTCUSDT 1h klines from 2024-01-01 00:00 that cannot "
                                   "be right", "2100-01-01 00:00", "--base-url")
    binance_server.heal()
    good = lstm_bt(*args)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("BTCUSDT 1h: 1416 bars from 2024-01-01 00:00")


def test_a_server_ignoring_start_time_ends_the_fetch_with_exit_2_not_a_loop(binance_server,
                                                                         tmp_path):
    binance_server.misbehave("ignore_start_time", times=None)

    result = lstm_bt("fetch", "--symbol", "BTCUSDT", "--interval", "1h", *WINDOW_ARGS,
                     "--base-url", binance_server.url, "--data-dir", str(tmp_path), timeout=60)

    assert_one_line_error(result, "the server ignores startTime")
    assert len(binance_server.klines_requests) == 2


def test_a_hung_server_is_given_up_on_after_the_request_deadline(binance_server, tmp_path):
    binance_server.hang(60)
    began = time.monotonic()

    with pytest.raises(NetworkError) as caught:
        fetch(binance_server, tmp_path, deadline=0.4, retries=2)

    assert time.monotonic() - began < 5
    assert "no whole answer within the 0.4 s request deadline" in str(caught.value) or \
        "ReadTimeout" in str(caught.value)
    assert "after 3 attempts and 1." in str(caught.value)


def test_a_trickling_server_is_cut_off_at_the_request_deadline(binance_server, tmp_path):
    binance_server.trickle(bytes_per_second=400)  # a 1000-row page would take ~6 minutes
    began = time.monotonic()

    with pytest.raises(NetworkError, match=r"Cannot reach .*no whole answer within the 0.5 s "
                                           r"request deadline\) after 2 attempts and 1\.\d s"):
        fetch(binance_server, tmp_path, deadline=0.5, retries=1)

    assert time.monotonic() - began < 5


def test_retry_after_waits_stop_at_the_retry_budget_saying_how_long(binance_server, tmp_path):
    binance_server.fail(429, times=10, retry_after=100, code=-1003, msg="Too many requests")
    waits = []

    with pytest.raises(BinanceError) as caught:
        fetch(binance_server, tmp_path, retry_budget=250, sleep=waits.append)

    assert waits == [100.0, 100.0]
    assert "rate limit reached (HTTP 429) after 3 attempts and 200." in str(caught.value)
    assert "the retry budget of 250 s (`--retry-budget`, LSTM_BT_RETRY_BUDGET) is spent" in \
        str(caught.value)


def test_fetch_flags_bound_a_hung_server_and_bad_values_exit_2(binance_server, tmp_path,
                                                               monkeypatch):
    binance_server.hang(60)
    args = ("fetch", "--symbol", "BTCUSDT", "--interval", "1h", *WINDOW_ARGS,
            "--base-url", binance_server.url, "--data-dir", str(tmp_path))
    began = time.monotonic()

    hung = lstm_bt(*args, "--request-deadline", "0.3", "--retry-budget", "1")

    assert time.monotonic() - began < 20
    assert_one_line_error(hung, "Cannot reach", "retry budget of 1 s", "Still missing: BTCUSDT "
                          "1h bars from 2024-01-01 00:00 to 2024-02-29 00:00")
    assert_one_line_error(lstm_bt(*args, "--request-deadline", "-1"),
                          "`--request-deadline`: '-1'", "positive number of seconds")
    monkeypatch.setenv("LSTM_BT_RETRY_BUDGET", "inf")
    with pytest.raises(InvalidParameter, match="`LSTM_BT_RETRY_BUDGET`: 'inf'"):
        BinanceClient(binance_server.url)


def test_a_network_error_names_the_range_still_missing(binance_server, tmp_path):
    binance_server.go_down_after(1)

    with pytest.raises(NetworkError) as caught:
        fetch(binance_server, tmp_path, retries=1)

    assert str(caught.value).endswith("Still missing: BTCUSDT 1h bars from 2024-02-11 16:00 to "
                                      "2024-02-29 00:00; the 1000 bars fetched before are stored.")


def test_offline_reads_the_store_only_and_names_the_bars_it_lacks(binance_server, tmp_path):
    with pytest.raises(DataError) as caught:
        load_klines("BTCUSDT", "1h", "2024-01-01", "2024-02-29", base_url=binance_server.url,
                    data_dir=tmp_path, offline=True)

    assert binance_server.log == []
    assert "lacks BTCUSDT 1h bars from 2024-01-01 00:00 to 2024-02-29 00:00" in str(caught.value)
    assert "lstm-bt fetch --symbol BTCUSDT --interval 1h --start 2024-01-01T00:00 --end " \
           "2024-02-29T00:00" in str(caught.value)

    load_klines("BTCUSDT", "1h", "2024-01-10", "2024-02-29", base_url=binance_server.url,
                data_dir=tmp_path)
    requests_before = len(binance_server.log)
    frame = load_klines("BTCUSDT", "1h", "2024-01-10", "2024-02-29", data_dir=tmp_path,
                        base_url="http://127.0.0.1:9", offline=True)
    assert len(frame) == 1200 and len(binance_server.log) == requests_before
    with pytest.raises(DataError, match="from 2024-01-01 00:00 to 2024-01-10 00:00\\. Fetch"):
        load_klines("BTCUSDT", "1h", "2024-01-01", "2024-02-29", data_dir=tmp_path, offline=True)


def test_fetch_warmup_takes_the_history_before_start_and_says_what_a_backtest_needs(
        binance_server, tmp_path):
    defaults = dict(LSTMStrategy.params._gettuple())
    needed = defaults["train_window"] + defaults["seq_len"]

    result = lstm_bt("fetch", "--symbol", "BTCUSDT", "--interval", "1h", "--start", "2024-06-01",
                     "--end", "2024-06-02", "--warmup", "48", "--base-url", binance_server.url,
                     "--data-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    first, history = result.stdout.splitlines()
    assert first.startswith("BTCUSDT 1h: 72 bars from 2024-05-30 00:00 to 2024-06-02 00:00")
    assert history == (f"a backtest from 2024-06-01 00:00 with default params needs train_window "
                       f"+ seq_len = {defaults['train_window']} + {defaults['seq_len']} = "
                       f"{needed} bars before it (48 stored; add --warmup {needed} to fetch "
                       f"them)")


def test_fetch_of_a_range_with_no_bars_warns(binance_server, tmp_path):
    result = lstm_bt("fetch", "--symbol", "BTCUSDT", "--interval", "1h", "--start", "2021-01-01",
                     "--end", "2021-02-01", "--base-url", binance_server.url,
                     "--data-dir", str(tmp_path))

    assert result.returncode == 0
    assert result.stdout.startswith("BTCUSDT 1h: 0 bars")
    assert result.stderr == ("lstm-bt: warning: Binance has no BTCUSDT 1h bars from 2021-01-01 "
                             "00:00 to 2021-02-01 00:00 (before the symbol was listed, or not "
                             "yet traded); check --symbol and the dates.\n")


def test_a_store_poisoned_by_an_older_version_is_fetched_again(binance_server, tmp_path):
    from lstm_bt.binance import KlinePage

    good, _ = fetch(binance_server, tmp_path / "reference")
    with KlineStore.in_dir(tmp_path) as store:  # what the old client stored from the 2100 answer
        rows = [(to_ms(moment), *bar[:5], to_ms(moment) + 3_599_999, *bar[5:])
                for moment, bar in zip(good.index[:999], good.itertuples(index=False))]
        rows.append((4102444800000, *rows[-1][1:6], 4102448399999, *rows[-1][7:]))
        store.save_page("BTCUSDT", "1h", KlinePage(rows, WINDOW[0], 4102444800000))
        assert store.missing_ranges("BTCUSDT", "1h", *WINDOW) == []

    frame, _ = fetch(binance_server, tmp_path)

    assert len(frame) == 1416
    assert stored_and_missing(tmp_path) == (1416, [])
