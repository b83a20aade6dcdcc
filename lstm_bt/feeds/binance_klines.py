"""`BinanceKlines`: a backtrader data feed of Binance klines from REST, a file or a frame."""

import os
from datetime import date, datetime

import backtrader as bt
import numpy as np
import pandas as pd

from ..binance import infer_interval, load_klines, read_kline_file
from ..data.dates import parse_date
from ..errors import DataError, InvalidParameter
from ..data.intervals import get_interval
from ..data.kline_frame import COLUMNS, validate_kline_frame

__all__ = ["BinanceKlines", "EXTRA_LINES"]

EXTRA_LINES = ("quote_volume", "trades", "taker_buy_base_volume", "taker_buy_quote_volume")


class BinanceKlines(bt.feed.DataBase):
    """Binance klines as a backtrader feed, with the extra Binance fields as lines.

    The source is Binance REST through the kline store (`symbol=`, `interval=`, `fromdate=`), a
    kline file (`dataname="path.csv"` or `.zip`) or a kline frame (`dataname=frame`). The
    interval sets `timeframe` and `compression`. `fromdate` is inclusive and `todate` exclusive,
    both UTC whatever the feed's `tz`; aware datetimes are converted and ISO text is read as
    `--start` is, while a `date` keeps backtrader's meaning. Data loads in `start()`, so an
    instance can be reused. Extra lines: `quote_volume`, `trades`, `taker_buy_base_volume`,
    `taker_buy_quote_volume`.

    Params:
        symbol: Binance symbol for the REST source, e.g. `"BTCUSDT"`; also the feed's name
            unless `name` is given. Defaults to `None`.
        interval: Binance interval, e.g. `"1h"`. Defaults to `None`: required for REST,
            inferred from the bar spacing of a file or frame.
        base_url: Binance REST root. Defaults to `None` (`LSTM_BT_BINANCE_URL`, else
            `https://api.binance.com`).
        data_dir: kline store directory. Defaults to `None` (`LSTM_BT_DATA_DIR`, else `./feeds`).
        progress: show a download progress bar on stderr. Defaults to `False`.
    """

    lines = EXTRA_LINES
    params = (
        ("symbol", None),
        ("interval", None),
        ("base_url", None),
        ("data_dir", None),
        ("progress", False),
    )

    def __init__(self):
        for name in ("fromdate", "todate"):
            setattr(self.p, name, _utc_bound(name, getattr(self.p, name)))
        source = self.p.dataname
        if source is None and self.p.symbol is None:
            raise InvalidParameter(
                "BinanceKlines needs a source: `symbol=` (Binance REST), or `dataname=` a "
                "kline file path or a kline DataFrame."
            )
        if source is None and (self.p.interval is None or self.p.fromdate is None):
            raise InvalidParameter(
                f"BinanceKlines(symbol={self.p.symbol!r}) needs `interval` (e.g. '1h') and "
                f"`fromdate` (the first bar wanted); got interval={self.p.interval!r}, "
                f"fromdate={self.p.fromdate!r}."
            )
        if self.p.interval is not None:
            self._use_interval(get_interval(self.p.interval))
        self._name = self.p.name or self.p.symbol or ""
        self._columns = []
        self._size = self._row = 0

    def start(self):
        super().start()
        frame = self._load_frame()
        if self.p.interval is None and len(frame) > 1:
            self._use_interval(infer_interval(frame.index))
        frame = frame[_in_range(frame.index, self.p.fromdate, self.p.todate)]
        if frame.empty:
            raise DataError(
                f"No klines for {self._describe()} between {self.p.fromdate} and "
                f"{self.p.todate}; check the dates and the source."
            )
        numbers = [bt.date2num(moment) for moment in frame.index.to_pydatetime()]
        self._columns = [(self.lines.datetime, numbers),
                         (self.lines.openinterest, [0.0] * len(frame))]
        for name in COLUMNS:
            self._columns.append((getattr(self.lines, name), frame[name].to_numpy(float).tolist()))
        self._size, self._row = len(frame), 0

    def _start_finish(self):
        super()._start_finish()
        # backtrader would read these in the feed's `tz`; here they are UTC, as `start()` cut.
        if self.p.fromdate is not None:
            self.fromdate = bt.date2num(self.p.fromdate)
        if self.p.todate is not None:
            self.todate = bt.date2num(self.p.todate)

    def _load(self):
        if self._row >= self._size:
            return False
        row = self._row
        for line, values in self._columns:
            line[0] = values[row]
        self._row = row + 1
        return True

    def _use_interval(self, interval):
        self.interval = interval
        self.p.timeframe, self.p.compression = interval.timeframe, interval.compression
        self._timeframe, self._compression = interval.timeframe, interval.compression

    def _load_frame(self):
        source = self.p.dataname
        if isinstance(source, pd.DataFrame):
            missing = [name for name in COLUMNS if name not in source]
            if missing or not isinstance(source.index, pd.DatetimeIndex):
                raise InvalidParameter(
                    f"BinanceKlines(dataname=DataFrame) needs a kline frame: a DatetimeIndex "
                    f"of open times and columns {', '.join(COLUMNS)}; missing {missing}."
                )
            return validate_kline_frame(source.sort_index(), "BinanceKlines(dataname=DataFrame)")
        if isinstance(source, (str, os.PathLike)):
            return read_kline_file(source, self.p.interval)
        if source is not None:
            raise InvalidParameter(
                f"Received an invalid value for `dataname`: a {type(source).__name__}. Give a "
                f"kline file path, a kline DataFrame, or leave it out and give `symbol=`."
            )
        return load_klines(self.p.symbol, self.p.interval, self.p.fromdate, self.p.todate,
                           base_url=self.p.base_url, data_dir=self.p.data_dir,
                           progress=self.p.progress)

    def _describe(self):
        return self.p.symbol or (self.p.dataname if isinstance(self.p.dataname, str) else "data")


def _utc_bound(name, value):
    """`fromdate`/`todate` as naive UTC; None and a `date` as given."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    return parse_date(value, name)


def _in_range(index, fromdate, todate):
    keep = np.ones(len(index), dtype=bool)
    if isinstance(fromdate, datetime):
        keep &= index >= fromdate
    if isinstance(todate, datetime):
        keep &= index < todate
    return keep
