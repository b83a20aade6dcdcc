"""The REST path against a real klines server on 127.0.0.1: paging, resuming, faults, errors."""

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest

from lstm_bt.binance import BinanceClient, KlineStore, load_klines, update_store
from lstm_bt.settings import resolve_base_url, resolve_data_dir
from lstm_bt.data.dates import to_ms
from lstm_bt.errors import BinanceError, InvalidParameter, NetworkError
from lstm_bt.data.intervals import INTERVALS
from lstm_bt.data.synthetic import random_walk

YEAR_2024 = (to_ms(pd.Timestamp("2024-01-01")), to_ms(pd.Timestamp("2025-01-01")))
HOUR_MS = 3_600_000


def fast_client(server, **options):
    """A client whose retry waits are milliseconds, so fault tests stay fast."""
    options.setdefault("backoff", 0.001)
    return BinanceClient(server.url, **options)


def fetch(server, data_dir, start_ms, end_ms, **options):
    with KlineStore.in_dir(data_dir) as store, fast_client(server, **options) as client:
        update_store(store, client, "BTCUSDT", "1h", start_ms, end_ms)
        return store.read_frame("BTCUSDT", "1h", start_ms, end_ms), client


def assert_same_bars(frame, expected):
    pd.testing.assert_index_equal(frame.index, expected.index)
    np.testing.assert_allclose(frame.to_numpy(float), expected.to_numpy(float), rtol=0, atol=1e-8)


def expected_2024(served):
    return served.loc["2024-01-01":"2024-12-31 23:00"]


def test_a_year_of_1h_bars_arrives_complete_in_ceil_rows_over_1000_requests(
        binance_server, served_btcusdt_1h, tmp_path):
    frame, client = fetch(binance_server, tmp_path, *YEAR_2024)

    expected = expected_2024(served_btcusdt_1h)
    assert_same_bars(frame, expected)
    assert len(binance_server.klines_requests) == math.ceil(len(expected) / 1000) == 9
    assert client.requests_made == 9
    starts = [int(request.params["startTime"]) for request in binance_server.klines_requests]
    # Each page starts one interval after the last open of the previous one: nothing doubled.
    assert np.diff(starts).tolist() == [1000 * HOUR_MS] * 8
    assert {request.params["limit"] for request in binance_server.klines_requests} == {"1000"}
    assert {request.params["endTime"] for request in binance_server.klines_requests} == {
        str(YEAR_2024[1] - 1)}


def test_a_second_run_makes_no_request(binance_server, tmp_path):
    fetch(binance_server, tmp_path, *YEAR_2024)
    first_run = len(binance_server.log)

    frame, client = fetch(binance_server, tmp_path, *YEAR_2024)

    assert len(binance_server.log) == first_run
    assert client.requests_made == 0
    assert len(frame) == 8784


def test_a_wider_range_fetches_only_the_missing_edges(binance_server, tmp_path):
    fetch(binance_server, tmp_path, *YEAR_2024)
    binance_server.log.clear()

    frame, _ = fetch(binance_server, tmp_path, YEAR_2024[0] - 10 * HOUR_MS,
                     YEAR_2024[1] + 5 * HOUR_MS)

    assert len(frame) == 8784 + 15
    asked = [(int(r.params["startTime"]), int(r.params["endTime"]) + 1)
             for r in binance_server.klines_requests]
    assert asked == [(YEAR_2024[0] - 10 * HOUR_MS, YEAR_2024[0]),
                     (YEAR_2024[1], YEAR_2024[1] + 5 * HOUR_MS)]


def test_start_is_inclusive_and_end_exclusive(binance_server, tmp_path):
    frame = load_klines("BTCUSDT", "1h", "2024-02-01", "2024-02-02", base_url=binance_server.url,
                        data_dir=tmp_path)

    assert frame.index[0] == pd.Timestamp("2024-02-01 00:00")
    assert frame.index[-1] == pd.Timestamp("2024-02-01 23:00")
    assert len(frame) == 24


def test_faults_cost_exactly_the_retries_they_force(binance_server, served_btcusdt_1h, tmp_path):
    binance_server.fail(500, times=2)
    binance_server.drop(times=2)
    binance_server.fail(503)
    binance_server.fail(429, retry_after=0, code=-1003, msg="Too many requests")

    frame, client = fetch(binance_server, tmp_path, *YEAR_2024, retries=6)

    assert_same_bars(frame, expected_2024(served_btcusdt_1h))
    assert len(binance_server.klines_requests) == 9 + 6
    assert client.requests_made == 9 + 6


def test_a_download_cut_off_midway_resumes_with_the_same_rows_and_no_duplicates(
        binance_server, served_btcusdt_1h, tmp_path):
    binance_server.go_down_after(3)
    with pytest.raises(NetworkError, match="Cannot reach"):
        fetch(binance_server, tmp_path, *YEAR_2024, retries=2)
    with KlineStore.in_dir(tmp_path) as store:
        assert store.count("BTCUSDT", "1h", *YEAR_2024) == 3000

    binance_server.go_down_after(None)
    binance_server.log.clear()
    frame, _ = fetch(binance_server, tmp_path, *YEAR_2024)

    assert_same_bars(frame, expected_2024(served_btcusdt_1h))
    assert len(binance_server.klines_requests) == 6
    resumed_from = int(binance_server.klines_requests[0].params["startTime"])
    assert resumed_from == YEAR_2024[0] + 3000 * HOUR_MS
    with sqlite3.connect(tmp_path / KlineStore.FILENAME) as database:
        counts = database.execute("SELECT COUNT(*), COUNT(DISTINCT open_time) FROM klines")
        assert counts.fetchone() == (8784, 8784)


def test_the_candle_in_progress_is_never_stored_and_is_fetched_once_closed(
        binance_server, served_btcusdt_1h, tmp_path):
    day = (to_ms(pd.Timestamp("2024-03-01")), to_ms(pd.Timestamp("2024-03-02")))
    binance_server.now_ms = to_ms(pd.Timestamp("2024-03-01 10:30"))

    frame, _ = fetch(binance_server, tmp_path, *day)

    assert frame.index[-1] == pd.Timestamp("2024-03-01 09:00")
    assert len(binance_server.klines_requests) == 1

    binance_server.now_ms = to_ms(pd.Timestamp("2024-03-01 12:30"))
    frame, _ = fetch(binance_server, tmp_path, *day)

    assert int(binance_server.klines_requests[-1].params["startTime"]) == to_ms(
        pd.Timestamp("2024-03-01 10:00"))
    assert_same_bars(frame, served_btcusdt_1h.loc["2024-03-01 00:00":"2024-03-01 11:00"])


def test_fetching_up_to_now_stops_before_the_current_hour(tmp_path):
    from helpers.binance_server import BinanceTestServer

    # The server's clock is pinned (its `Date` header follows it) and the client takes the
    # earlier of its own clock and the server's, so "now" is 10:30 whatever the time of day.
    now = pd.Timestamp("2024-03-01 10:30")
    first = now.floor("h") - pd.Timedelta("47h")
    with BinanceTestServer(now_ms=to_ms(now)) as server:
        server.serve("BTCUSDT", "1h", random_walk(48, start=first))
        frame = load_klines("BTCUSDT", "1h", first, base_url=server.url, data_dir=tmp_path)

    # The 10:00 bar is still in progress at 10:30: it is not stored, the 09:00 bar is.
    assert frame.index[-1] == pd.Timestamp("2024-03-01 09:00")
    assert frame.index[0] == first
    assert len(frame) == 47


def test_a_candle_that_closes_while_its_answer_is_on_the_way_is_not_taken_for_closed():
    import time

    from helpers.binance_server import BinanceTestServer

    # The server makes its answer 0.4 s before a 1 s candle closes (the candle in progress,
    # partial) and sends it 0.8 s later, its `Date` then past the close, as the client's clock
    # is when the answer arrives: the answer was made before the close all the same.
    now_ms = int(time.time() * 1000)
    first_ms = now_ms - now_ms % 1000 - 60_000
    frame = random_walk(120, interval="1s", start=pd.Timestamp(first_ms, unit="ms"), seed=3)
    with BinanceTestServer() as server:
        server.serve("BTCUSDT", "1s", frame)
        server.hang(0.8)
        time.sleep(1.6 - time.time() % 1)  # 0.4 s before a close, at least a second from now
        with BinanceClient(server.url) as client:
            asked_ms = int(time.time() * 1000)
            pages = list(client.iter_kline_pages("BTCUSDT", "1s", first_ms, asked_ms + 1))

    rows = [row for page in pages for row in page.rows]
    served = frame.iloc[:len(rows)]
    assert len(rows) >= 60 and rows[-1][0] + 1000 <= asked_ms
    assert [row[0] for row in rows] == [to_ms(when) for when in served.index]
    np.testing.assert_allclose([row[4] for row in rows], served["close"], rtol=0, atol=1e-8)
    np.testing.assert_allclose([row[5] for row in rows], served["volume"], rtol=0, atol=1e-8)


@pytest.mark.parametrize("start, end", [
    ("2024-01-01", "2025-01-01"),        # the outage inside a full page
    ("2024-03-24 00:00", "2024-03-24 15:00"),  # the range ends inside the outage
    ("2024-03-24 14:00", "2024-03-24 16:00"),  # the range is all outage
])
def test_an_exchange_outage_gap_is_requested_only_once(served_btcusdt_1h, tmp_path, start, end):
    from helpers.binance_server import BinanceTestServer

    outage = served_btcusdt_1h.loc["2024-03-24 13:00":"2024-03-24 17:00"].index
    wanted = (to_ms(pd.Timestamp(start)), to_ms(pd.Timestamp(end)))
    with BinanceTestServer() as server:
        server.serve("BTCUSDT", "1h", served_btcusdt_1h.drop(outage))
        frame, _ = fetch(server, tmp_path, *wanted)
        frame_again, client = fetch(server, tmp_path, *wanted)

    expected = served_btcusdt_1h.loc[start:pd.Timestamp(end) - pd.Timedelta("1h")].drop(
        outage, errors="ignore")
    assert_same_bars(frame, expected)
    assert client.requests_made == 0
    assert frame_again.equals(frame)


def test_used_weight_near_the_limit_pauses_until_the_next_minute(binance_server, tmp_path):
    binance_server.reset_weight_each_minute = False
    binance_server.used_weight = 4000
    waits = []

    fetch(binance_server, tmp_path, *YEAR_2024, weight_limit=4010, sleep=waits.append)

    # Weights after each request: 4002 .. 4018; from 4010 on, each next request waits.
    assert len(waits) == 4
    assert all(0 < wait <= 61 for wait in waits)


def test_used_weight_below_the_limit_never_pauses(binance_server, tmp_path):
    waits = []

    fetch(binance_server, tmp_path, *YEAR_2024, sleep=waits.append)

    assert waits == []


def test_unknown_symbol_says_check_the_spelling(binance_server, tmp_path):
    with pytest.raises(BinanceError) as caught:
        load_klines("BTCUSD", "1h", "2024-01-01", "2024-01-02", base_url=binance_server.url,
                    data_dir=tmp_path)

    assert str(caught.value) == ("Unknown symbol 'BTCUSD' (Binance code -1121). "
                                 "Check the spelling, e.g. BTCUSDT.")
    assert (caught.value.code, caught.value.status) == (-1121, 400)


def test_invalid_interval_from_binance_lists_the_valid_ones(binance_server, tmp_path):
    binance_server.fail(400, code=-1120, msg="Invalid interval.")

    with pytest.raises(BinanceError, match="Invalid interval '1h' .*-1120.*Use one of: 1s 1m"):
        fetch(binance_server, tmp_path, *YEAR_2024)


def test_an_interval_binance_lacks_is_refused_before_any_request(binance_server, tmp_path):
    with pytest.raises(InvalidParameter, match=" ".join(INTERVALS)):
        load_klines("BTCUSDT", "2x", "2024-01-01", base_url=binance_server.url, data_dir=tmp_path)
    assert binance_server.log == []


def test_illegal_characters_name_the_symbol_rules(binance_server, tmp_path):
    binance_server.fail(400, code=-1100, msg="Illegal characters found in parameter 'symbol'.")

    with pytest.raises(BinanceError, match="illegal characters.*-1100.*upper-case letters"):
        fetch(binance_server, tmp_path, *YEAR_2024)


def test_a_symbol_that_cannot_be_binance_is_refused_before_any_request(binance_server, tmp_path):
    with pytest.raises(InvalidParameter, match="Did you mean 'BTCUSDT'"):
        load_klines("btcusdt", "1h", "2024-01-01", base_url=binance_server.url, data_dir=tmp_path)
    with pytest.raises(InvalidParameter, match="upper-case letters"):
        KlineStore.in_dir(tmp_path).missing_ranges("../../etc", "1h", 0, 1)
    assert binance_server.log == []


def test_restricted_location_suggests_the_data_api_root(binance_server, tmp_path):
    binance_server.restricted = True

    with pytest.raises(BinanceError) as caught:
        fetch(binance_server, tmp_path, *YEAR_2024)

    assert "HTTP 451" in str(caught.value)
    assert "--base-url https://data-api.binance.vision" in str(caught.value)
    assert len(binance_server.log) == 1


@pytest.mark.parametrize("status, reason", [(429, "rate limit"), (418, "banned")])
def test_retry_after_beyond_the_bound_is_a_clear_error_without_waiting(
        binance_server, tmp_path, status, reason):
    binance_server.fail(status, retry_after=300, code=-1003, msg="Way too many requests")
    waits = []

    with pytest.raises(BinanceError, match=f"{reason}.*HTTP {status}.*wait 300 s.*longer than "
                                           f"the 120 s"):
        fetch(binance_server, tmp_path, *YEAR_2024, sleep=waits.append)

    assert waits == []
    assert len(binance_server.log) == 1


def test_retry_after_within_the_bound_is_waited_for(binance_server, tmp_path):
    binance_server.fail(429, retry_after=7, code=-1003, msg="Too many requests")
    waits = []

    fetch(binance_server, tmp_path, *YEAR_2024, sleep=waits.append)

    assert waits == [7.0]


def test_persistent_server_errors_give_up_after_the_retries(binance_server, tmp_path):
    binance_server.fail(502, times=10)

    with pytest.raises(NetworkError, match=r"kept failing \(HTTP 502\) after 4 attempts"):
        fetch(binance_server, tmp_path, *YEAR_2024, retries=3)

    assert len(binance_server.log) == 4


def test_an_unreachable_host_names_the_base_url_fix(tmp_path):
    unreachable = BinanceClient("http://127.0.0.1:9", retries=1, backoff=0.001)

    with KlineStore.in_dir(tmp_path) as store, unreachable:
        with pytest.raises(NetworkError, match="Cannot reach http://127.0.0.1:9 .*--base-url"):
            update_store(store, unreachable, "BTCUSDT", "1h", *YEAR_2024)

    assert unreachable.requests_made == 2


def test_a_root_that_is_not_binance_says_check_the_base_url(binance_server, tmp_path):
    with pytest.raises(BinanceError, match="answered HTTP 404, not a Binance error; check "
                                           "`--base-url`"):
        with fast_client(binance_server) as client:
            client.base_url += "/nothing-here"
            list(client.iter_kline_pages("BTCUSDT", "1h", *YEAR_2024))


def test_a_closed_range_is_one_request_by_binance_rules_giving_exactly_its_bars(
        binance_server, served_btcusdt_1h):
    start = YEAR_2024[0]
    with fast_client(binance_server) as client:
        pages = list(client.iter_kline_pages("BTCUSDT", "1h", start, start + 3 * HOUR_MS))

    (request,) = binance_server.klines_requests
    # endTime is inclusive at Binance: the client asks up to the last wanted open time, and
    # for a full page (1000, the most Binance allows), which costs no more weight.
    assert request.params == {"symbol": "BTCUSDT", "interval": "1h", "startTime": str(start),
                              "endTime": str(start + 3 * HOUR_MS - 1), "limit": "1000"}
    (page,) = pages
    assert (page.start_ms, page.end_ms) == (start, start + 3 * HOUR_MS)
    assert [row[0] for row in page.rows] == [start, start + HOUR_MS, start + 2 * HOUR_MS]
    assert [row[6] for row in page.rows] == [start + HOUR_MS - 1, start + 2 * HOUR_MS - 1,
                                             start + 3 * HOUR_MS - 1]
    served = served_btcusdt_1h.loc["2024-01-01 00:00":"2024-01-01 02:00"]
    # Binance sends decimal strings with 8 places; they parse back to the served values.
    np.testing.assert_allclose([row[1:6] for row in page.rows],
                               served[["open", "high", "low", "close", "volume"]],
                               rtol=0, atol=5e-9)


def test_base_url_comes_from_argument_then_environment_then_default(monkeypatch):
    assert resolve_base_url() == "https://api.binance.com"
    monkeypatch.setenv("LSTM_BT_BINANCE_URL", "https://data-api.binance.vision/")
    assert resolve_base_url() == "https://data-api.binance.vision"
    assert resolve_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    with pytest.raises(InvalidParameter, match="--base-url.*'api.binance.com'"):
        resolve_base_url("api.binance.com")


def test_data_dir_comes_from_argument_then_environment_then_feeds(monkeypatch, tmp_path):
    monkeypatch.delenv("LSTM_BT_DATA_DIR")
    assert str(resolve_data_dir()) == "feeds"
    monkeypatch.setenv("LSTM_BT_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert str(resolve_data_dir("elsewhere")) == "elsewhere"


def test_a_page_size_binance_would_refuse_is_rejected_up_front():
    with pytest.raises(InvalidParameter, match="`page_size`, expected 1 to 1000 .* got 1001"):
        BinanceClient("http://127.0.0.1:9", page_size=1001)


def test_a_smaller_page_size_walks_the_range_in_more_requests(binance_server, tmp_path):
    frame, client = fetch(binance_server, tmp_path, YEAR_2024[0], YEAR_2024[0] + 1000 * HOUR_MS,
                          page_size=300)

    assert len(frame) == 1000
    assert client.requests_made == 4
    assert frame.index.is_unique


@pytest.mark.parametrize("interval, bars", [("15m", 3000), ("1d", 400), ("1w", 60), ("1M", 30)])
def test_every_kind_of_interval_arrives_complete(tmp_path, interval, bars):
    from helpers.binance_server import BinanceTestServer

    served = random_walk(bars, interval=interval, start="2019-01-07")
    with BinanceTestServer() as server:
        server.serve("ETHUSDT", interval, served)
        with KlineStore.in_dir(tmp_path) as store, fast_client(server, page_size=7) as client:
            update_store(store, client, "ETHUSDT", interval, to_ms(served.index[0]),
                         to_ms(served.index[-1]) + 1)
            frame = store.read_frame("ETHUSDT", interval, 0, to_ms(served.index[-1]) + 1)

    assert_same_bars(frame, served)
    assert client.requests_made == math.ceil(bars / 7)
