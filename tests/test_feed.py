"""BinanceKlines inside a real cerebro: over a frame, a file and REST + store."""

from datetime import date, datetime, timedelta, timezone

import backtrader as bt
import pytest

from lstm_bt.binance import write_kline_csv
from lstm_bt.errors import DataError, InvalidParameter
from lstm_bt.feeds import BinanceKlines
from lstm_bt.data.synthetic import random_walk


class Recorder(bt.Strategy):
    """Records every bar the strategy sees, extra Binance lines included."""

    def __init__(self):
        self.seen = []

    def next(self):
        data = self.data
        self.seen.append((data.datetime.datetime(0), data.open[0], data.close[0], data.volume[0],
                          data.quote_volume[0], data.trades[0], data.taker_buy_base_volume[0],
                          data.taker_buy_quote_volume[0]))


def run(data):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(data)
    cerebro.addstrategy(Recorder)
    return cerebro.run()[0].seen


def as_seen(frame):
    return [(moment.to_pydatetime(), bar.open, bar.close, bar.volume, bar.quote_volume,
             float(bar.trades), bar.taker_buy_base_volume, bar.taker_buy_quote_volume)
            for moment, bar in zip(frame.index, frame.itertuples(index=False))]


@pytest.fixture(scope="module")
def hourly():
    return random_walk(300, interval="1h", start="2024-01-01", seed=5)


def test_a_frame_feeds_every_bar_with_the_extra_binance_lines(hourly):
    data = BinanceKlines(dataname=hourly, interval="1h")

    assert run(data) == as_seen(hourly)


@pytest.mark.parametrize("interval, timeframe, compression", [
    ("1h", bt.TimeFrame.Minutes, 60), ("15m", bt.TimeFrame.Minutes, 15),
    ("1d", bt.TimeFrame.Days, 1), ("1w", bt.TimeFrame.Weeks, 1)])
def test_timeframe_and_compression_come_from_the_interval(interval, timeframe, compression):
    frame = random_walk(10, interval=interval)
    data = BinanceKlines(dataname=frame, interval=interval)

    assert (data._timeframe, data._compression) == (timeframe, compression)
    assert (data.p.timeframe, data.p.compression) == (timeframe, compression)


def test_fromdate_is_inclusive_and_todate_exclusive(hourly):
    data = BinanceKlines(dataname=hourly, interval="1h", fromdate=datetime(2024, 1, 2),
                         todate=datetime(2024, 1, 3))

    seen = run(data)

    assert seen == as_seen(hourly.loc["2024-01-02 00:00":"2024-01-02 23:00"])


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo"])
def test_fromdate_and_todate_stay_utc_with_backtraders_tz(hourly, tz):
    pytest.importorskip("pytz")  # backtrader reads a `tz` name through pytz
    data = BinanceKlines(dataname=hourly, interval="1h", fromdate=datetime(2024, 1, 2),
                         todate=datetime(2024, 1, 3), tz=tz)

    seen = run(data)

    day = hourly.loc["2024-01-02 00:00":"2024-01-02 23:00"]
    assert [bt.num2date(number) for number in data.datetime.array] == \
        day.index.to_pydatetime().tolist()
    assert [bar[1:] for bar in seen] == [bar[1:] for bar in as_seen(day)]


@pytest.mark.parametrize("fromdate, todate", [
    (datetime(2024, 1, 2, 9, tzinfo=timezone(timedelta(hours=9))),
     datetime(2024, 1, 2, 19, tzinfo=timezone(timedelta(hours=-5)))),
    ("2024-01-02", "2024-01-03T00:00Z"),
    ("2024-01-02T01:00+01:00", datetime(2024, 1, 3, tzinfo=timezone.utc)),
])
@pytest.mark.parametrize("tz", [None, "Asia/Tokyo"])
def test_aware_and_text_dates_are_read_as_utc(hourly, fromdate, todate, tz):
    if tz:
        pytest.importorskip("pytz")
    data = BinanceKlines(dataname=hourly, interval="1h", fromdate=fromdate, todate=todate, tz=tz)

    seen = run(data)

    day = hourly.loc["2024-01-02 00:00":"2024-01-02 23:00"]
    assert [bt.num2date(number) for number in data.datetime.array] == \
        day.index.to_pydatetime().tolist()
    assert [bar[1:] for bar in seen] == [bar[1:] for bar in as_seen(day)]
    assert (data.p.fromdate, data.p.todate) == (datetime(2024, 1, 2), datetime(2024, 1, 3))


def test_a_date_that_is_no_date_is_refused_naming_the_param(hourly):
    with pytest.raises(InvalidParameter, match=r"`todate`: 'soon'. Write a UTC date"):
        BinanceKlines(dataname=hourly, interval="1h", todate="soon")


def test_a_date_todate_keeps_backtraders_meaning_the_end_of_that_day(hourly):
    data = BinanceKlines(dataname=hourly, interval="1h", fromdate=date(2024, 1, 2),
                         todate=date(2024, 1, 2))

    assert [bar[0] for bar in run(data)] == \
        hourly.loc["2024-01-02 00:00":"2024-01-02 23:00"].index.to_pydatetime().tolist()


def test_a_kline_file_feeds_the_same_bars_with_the_interval_inferred(hourly, tmp_path):
    write_kline_csv(tmp_path / "btc.csv", hourly, "1h")
    data = BinanceKlines(dataname=str(tmp_path / "btc.csv"))

    seen = run(data)

    assert [bar[0] for bar in seen] == hourly.index.to_pydatetime().tolist()
    assert seen[5][2] == pytest.approx(hourly["close"].iloc[5], abs=1e-8)
    assert (data._timeframe, data._compression) == (bt.TimeFrame.Minutes, 60)


def test_bar_datetimes_are_exactly_backtraders_own_numbers(hourly):
    data = BinanceKlines(dataname=hourly, interval="1h")
    run(data)

    assert list(data.datetime.array) == [bt.date2num(t) for t in hourly.index.to_pydatetime()]


def test_the_same_feed_instance_can_run_twice(hourly):
    data = BinanceKlines(dataname=hourly, interval="1h")

    assert run(data) == run(data)


def test_rest_feed_fetches_once_into_the_store_and_then_reads_it(
        binance_server, served_btcusdt_1h, tmp_path):
    def year_2024():
        return BinanceKlines(symbol="BTCUSDT", interval="1h", fromdate=datetime(2024, 1, 1),
                             todate=datetime(2025, 1, 1), base_url=binance_server.url,
                             data_dir=tmp_path)

    first = run(year_2024())
    requests_after_first = len(binance_server.log)
    second = run(year_2024())

    assert len(first) == 8784
    assert first[0][0] == datetime(2024, 1, 1) and first[-1][0] == datetime(2024, 12, 31, 23)
    assert first[100][2] == pytest.approx(served_btcusdt_1h.loc["2024-01-05 04:00", "close"],
                                          abs=1e-8)
    assert requests_after_first == 9
    assert len(binance_server.log) == 9
    assert second == first
    assert year_2024()._name == "BTCUSDT"


def test_a_feed_without_a_source_says_what_to_give():
    with pytest.raises(InvalidParameter, match="needs a source: `symbol=`"):
        BinanceKlines()


def test_a_rest_feed_without_fromdate_says_so():
    with pytest.raises(InvalidParameter, match="needs `interval` .* and `fromdate`"):
        BinanceKlines(symbol="BTCUSDT", interval="1h")


def test_a_range_without_bars_is_a_data_error(hourly):
    data = BinanceKlines(dataname=hourly, interval="1h", fromdate=datetime(2030, 1, 1))

    with pytest.raises(DataError, match="No klines"):
        run(data)


def test_a_frame_without_kline_columns_is_refused(hourly):
    with pytest.raises(InvalidParameter, match="missing \\['trades'\\]"):
        run(BinanceKlines(dataname=hourly.drop(columns="trades"), interval="1h"))
