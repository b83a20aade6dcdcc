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

    Three sources, picked by the arguments:

    - `symbol=` (and no `dataname`): Binance REST through the local kline store; only bars the
      store lacks are fetched (see `lstm_bt.binance.load_klines`). Needs `fromdate`.
    - `dataname="path.csv"` or `"path.zip"`: a Binance kline file (`read_kline_file`).
    - `dataname=frame`: a kline DataFrame (see `lstm_bt.data.kline_frame`), e.g. loaded once and
      shared by several runs.

    `timeframe`/`compression` come from the interval (1h -> Minutes, 60). `fromdate` is
    inclusive and `todate` exclusive, like `--start`/`--end`, and both are UTC, also with
    backtrader's `tz` param set (which changes only what backtrader shows):
    `todate=datetime(2025, 1, 1)` stops after the last bar of 2024. A timezone-aware datetime
    is converted to UTC and ISO text (`"2024-01-01"`, `"2024-01-01T12:00Z"`) is read as
    `lstm_bt.data.dates.parse_date` reads it; a `date` keeps backtrader's meaning (`todate`: the end
    of that day). Data is loaded in
    `start()`, so an instance can be reused.

    Lines: `datetime, open, high, low, close, volume, openinterest` (always 0) plus
    `quote_volume`, `trades`, `taker_buy_base_volume`, `taker_buy_quote_volume`.

    Params:
        symbol: Binance symbol for the REST source, e.g. `"BTCUSDT"`. Also the feed's name
            unless `name` is given. Defaults to `None`.
        interval: Binance interval, e.g. `"1h"`. Defaults to `None`: required for REST,
            inferred from the bar spacing of a file or frame.
        base_url: Binance REST root. Defaults to `None` (`LSTM_BT_BINANCE_URL`, else
            `https://api.binance.com`).
        data_dir: kline store directory. Defaults to `None` (`LSTM_BT_DATA_DIR`, else
            `./feeds`).
        progress: show a download progress bar on stderr. Defaults to `False`.

    Example:
        >>> data = BinanceKlines(symbol="BTCUSDT", interval="1h",  # doctest: +SKIP
        ...                      fromdate=datetime(2024, 1, 1), todate=datetime(2025, 1, 1))
        >>> cerebro.adddata(data)  # doctest: +SKIP
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
        # backtrader reads `fromdate`/`todate` in the feed's `tz` and would drop bars of the
        # range; here they are UTC, like `--start`/`--end`, as `start()` cut the frame.
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
    """`fromdate`/`todate` as a naive UTC datetime, as every bar time here is; None and a
    `date` as given (backtrader turns a date into the start or end of its day)."""
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
