from datetime import datetime, timezone

import backtrader as bt
import pytest

from lstm_bt.errors import InvalidParameter
from lstm_bt.data.intervals import INTERVALS, bars_per_year, get_interval


def test_every_binance_interval_is_in_the_table():
    assert list(INTERVALS) == "1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M".split()


@pytest.mark.parametrize(
    "name, timeframe, compression, per_year",
    [
        ("1h", bt.TimeFrame.Minutes, 60, 8760),
        ("1d", bt.TimeFrame.Days, 1, 365),
        ("15m", bt.TimeFrame.Minutes, 15, 35040),
        ("1w", bt.TimeFrame.Weeks, 1, 365 / 7),
        ("1M", bt.TimeFrame.Months, 1, 12),
    ],
)
def test_interval_maps_to_backtrader_and_a_365_day_year(name, timeframe, compression, per_year):
    interval = get_interval(name)
    assert (interval.timeframe, interval.compression) == (timeframe, compression)
    assert interval.bars_per_year == pytest.approx(per_year)
    assert bars_per_year(timeframe, compression) == pytest.approx(per_year)


def test_monthly_bars_follow_the_calendar():
    month = get_interval("1M")
    jan = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
    dec = int(datetime(2023, 12, 1, tzinfo=timezone.utc).timestamp() * 1000)
    assert month.next_open(jan) == int(datetime(2024, 2, 1, tzinfo=timezone.utc).timestamp() * 1000)
    assert month.next_open(dec) == jan


def test_close_time_is_one_ms_before_the_next_open():
    assert get_interval("1h").close_ms(1_640_995_200_000) == 1_640_998_799_999


def test_unknown_interval_lists_the_valid_ones():
    with pytest.raises(InvalidParameter, match=r"`interval`: '1H'.*1s 1m 3m"):
        get_interval("1H")


@pytest.mark.parametrize("interval", list(INTERVALS.values()), ids=list(INTERVALS))
def test_bars_per_year_of_a_backtrader_timeframe_matches_the_table(interval):
    assert bars_per_year(interval.timeframe, interval.compression) == interval.bars_per_year


def test_the_timeframe_values_are_backtraders():
    import backtrader as bt

    from lstm_bt.data.intervals import _TF

    for name in ("Seconds", "Minutes", "Days", "Weeks", "Months", "Years"):
        assert getattr(_TF, name) == getattr(bt.TimeFrame, name)
