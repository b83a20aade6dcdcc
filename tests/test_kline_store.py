"""KlineStore: a real SQLite file; fetched ranges, atomic pages, reading back."""

import pandas as pd
import pytest

from lstm_bt.binance import KlinePage, KlineStore

HOUR_MS = 3_600_000


def bars(first_hour, count):
    """Rows in REST order for `count` hourly bars from hour `first_hour` after the epoch."""
    return [(h * HOUR_MS, 10.0 + h, 11.0 + h, 9.0 + h, 10.5 + h, 2.0, (h + 1) * HOUR_MS - 1,
             21.0, 7, 1.0, 10.5) for h in range(first_hour, first_hour + count)]


def page(first_hour, count, covered_hours=None):
    covered = count if covered_hours is None else covered_hours
    return KlinePage(bars(first_hour, count), first_hour * HOUR_MS,
                     (first_hour + covered) * HOUR_MS)


@pytest.fixture
def store(tmp_path):
    with KlineStore.in_dir(tmp_path / "feeds") as opened:
        yield opened


def test_an_empty_store_misses_the_whole_range(store):
    assert store.missing_ranges("BTCUSDT", "1h", 0, 10 * HOUR_MS) == [(0, 10 * HOUR_MS)]


def test_saved_pages_are_no_longer_missing_and_holes_are(store):
    store.save_page("BTCUSDT", "1h", page(0, 3))
    store.save_page("BTCUSDT", "1h", page(5, 2))

    assert store.missing_ranges("BTCUSDT", "1h", 0, 10 * HOUR_MS) == [
        (3 * HOUR_MS, 5 * HOUR_MS), (7 * HOUR_MS, 10 * HOUR_MS)]
    assert store.missing_ranges("BTCUSDT", "1h", HOUR_MS, 2 * HOUR_MS) == []
    assert store.missing_ranges("ETHUSDT", "1h", 0, HOUR_MS) == [(0, HOUR_MS)]
    assert store.missing_ranges("BTCUSDT", "4h", 0, HOUR_MS) == [(0, HOUR_MS)]


def test_touching_ranges_merge_into_one(store, tmp_path):
    for first in (4, 0, 2, 3):
        store.save_page("BTCUSDT", "1h", page(first, 1 if first != 0 else 2))

    ranges = store._connection.execute("SELECT start_ms, end_ms FROM fetched_ranges").fetchall()
    assert ranges == [(0, 5 * HOUR_MS)]


def test_a_range_answered_without_rows_is_remembered_as_fetched(store):
    store.save_page("BTCUSDT", "1h", page(0, 2, covered_hours=6))

    assert store.missing_ranges("BTCUSDT", "1h", 0, 6 * HOUR_MS) == []
    assert store.count("BTCUSDT", "1h", 0, 6 * HOUR_MS) == 2


def test_a_page_that_fails_to_store_leaves_neither_rows_nor_range(store):
    broken = KlinePage(bars(0, 3)[:2] + [(2 * HOUR_MS, None) + bars(2, 1)[0][2:]], 0, 3 * HOUR_MS)

    with pytest.raises(Exception, match="NOT NULL"):
        store.save_page("BTCUSDT", "1h", broken)

    assert store.count("BTCUSDT", "1h", 0, 3 * HOUR_MS) == 0
    assert store.missing_ranges("BTCUSDT", "1h", 0, 3 * HOUR_MS) == [(0, 3 * HOUR_MS)]


def test_storing_a_bar_twice_keeps_one_row_with_the_newer_values(store):
    store.save_page("BTCUSDT", "1h", page(0, 3))
    restated = KlinePage([(HOUR_MS, 1.0, 2.0, 0.5, 1.5, 3.0, 2 * HOUR_MS - 1, 4.0, 5, 1.0, 2.0)],
                         HOUR_MS, 2 * HOUR_MS)
    store.save_page("BTCUSDT", "1h", restated)

    frame = store.read_frame("BTCUSDT", "1h", 0, 3 * HOUR_MS)
    assert len(frame) == 3
    assert frame["close"].tolist() == [10.5, 1.5, 12.5]


def test_read_frame_is_a_kline_frame_within_the_half_open_range(store):
    store.save_page("BTCUSDT", "1h", page(0, 5))

    frame = store.read_frame("BTCUSDT", "1h", HOUR_MS, 4 * HOUR_MS, close_time=True)

    assert frame.index.tolist() == [pd.Timestamp(h * HOUR_MS, unit="ms") for h in (1, 2, 3)]
    assert frame.index.name == "datetime"
    assert frame["trades"].dtype == "int64"
    assert frame["close_time"].tolist() == [2 * HOUR_MS - 1, 3 * HOUR_MS - 1, 4 * HOUR_MS - 1]
    assert list(frame.columns[:9]) == ["open", "high", "low", "close", "volume", "quote_volume",
                                       "trades", "taker_buy_base_volume",
                                       "taker_buy_quote_volume"]


def test_an_empty_read_has_the_kline_columns(store):
    frame = store.read_frame("BTCUSDT", "1h", 0, HOUR_MS)

    assert frame.empty
    assert "taker_buy_quote_volume" in frame and frame.index.name == "datetime"


def test_everything_survives_reopening_the_file(tmp_path):
    with KlineStore.in_dir(tmp_path) as store:
        store.save_page("BTCUSDT", "1h", page(0, 4))

    with KlineStore.in_dir(tmp_path) as reopened:
        assert reopened.count("BTCUSDT", "1h", 0, 4 * HOUR_MS) == 4
        assert reopened.missing_ranges("BTCUSDT", "1h", 0, 4 * HOUR_MS) == []
    assert (tmp_path / "klines.sqlite").is_file()
