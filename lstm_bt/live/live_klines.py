"""`LiveKlines`: closed Binance klines as a live backtrader feed.

It delivers the session's opening bars first (the warm-up history, or on a resumed session
every journaled bar, which the strategy replays), then each closed bar of the kline stream as
it comes. A bar is journaled before backtrader sees it. Like backtrader's own live feeds
(`feeds/oanda.py`), `_load` returns None when no bar is due, so cerebro keeps looping (for
notifications and a clean stop) without a new bar, and the feed reports its state with
backtrader's data notifications: `DELAYED` while replaying or backfilling, `LIVE` once the
stream is current, `CONNBROKEN` while it reconnects.
"""

import collections
from datetime import datetime

import backtrader as bt

from ..data.dates import from_ms
from ..data.intervals import get_interval
from ..feeds.binance_klines import EXTRA_LINES
from ..binance._frames import ROW_FIELDS

__all__ = ["LiveKlines", "kline_row", "open_ms"]

_EPOCH = datetime(1970, 1, 1)
# The stream's states, as backtrader's data notifications.
_NOTIFICATIONS = {"backfilling": "DELAYED", "live": "LIVE", "reconnecting": "CONNBROKEN"}
_LINES = ("open", "high", "low", "close", "volume", *EXTRA_LINES)


def kline_row(open_time, bar, interval):
    """A stream's bar (`open_time` in ms and its kline columns: `open`, ..., `trades`, ...) as
    a journal row in `ROW_FIELDS` order."""
    return (open_time, float(bar.open), float(bar.high), float(bar.low), float(bar.close),
            float(bar.volume), interval.close_ms(open_time), float(bar.quote_volume),
            int(bar.trades), float(bar.taker_buy_base_volume),
            float(bar.taker_buy_quote_volume))


def open_ms(data):
    """The open time of `data`'s current bar in ms (backtrader's float dates rounded)."""
    return round((bt.num2date(data.datetime[0]) - _EPOCH).total_seconds() * 1000)


class LiveKlines(bt.feed.DataBase):
    """Closed klines of one symbol: the opening bars, then the live stream.

    Made by `BinanceStore.getdata`, which gives it its opening bars and stream; see there.

    Params:
        symbol: Binance symbol, e.g. `"BTCUSDT"`; the feed's name unless `name` is given.
        interval: Binance interval, e.g. `"1h"`.
        qcheck: seconds to wait for a bar before giving cerebro its loop back. Defaults to
            `0.5`.

    Attributes:
        first_live: open time (naive UTC datetime) of the session's first live bar: the
            strategy's `start`.
        replaying: whether the current bar is one of the opening bars (warm-up or journaled),
            not a bar that just arrived.
        caught_up: whether no opening bar is left to replay.
        live_bars: live bars delivered so far (replayed ones included).
    """

    lines = EXTRA_LINES
    params = (("symbol", None), ("interval", None), ("qcheck", 0.5))

    def __init__(self, store=None, opening=None, first_live_ms=None, live_bars_limit=None):
        self._store = store
        self._opening_rows = list(opening or ())
        self.first_live_ms = first_live_ms
        self.live_bars_limit = live_bars_limit
        interval = get_interval(self.p.interval)
        self.interval = interval
        self.p.timeframe, self.p.compression = interval.timeframe, interval.compression
        self._timeframe, self._compression = interval.timeframe, interval.compression
        self._name = self.p.name or self.p.symbol or ""
        self._stream = None

    @property
    def first_live(self):
        return from_ms(self.first_live_ms)

    def islive(self):
        return True

    def haslivedata(self):
        return bool(self._queue)

    def start(self):
        super().start()
        self._queue = collections.deque(self._opening_rows)
        self.replaying = True
        self.live_bars = 0
        self._last_ms = self._queue[-1][0][0] if self._queue else self.first_live_ms - 1
        self.put_notification(self.DELAYED)
        self._stream = self._store.open_stream(self.p.symbol, self.interval, self._last_ms)

    def stop(self):
        super().stop()
        self.close_stream()

    def close_stream(self):
        """Close the kline stream (its thread and connection); idempotent."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    @property
    def caught_up(self):
        return not self._queue

    @property
    def stream_status(self):
        """The stream's state (`"backfilling"`, `"live"`, `"reconnecting"`), or
        `"replaying"` while opening bars are left."""
        return "replaying" if self._queue else self._stream.status

    def _load(self):
        while True:
            if self._store.stopping or self._limit_reached():
                return False
            if self._queue:
                row, live = self._queue.popleft()
                self.replaying = True
            else:
                item = self._stream.get(timeout=self._qcheck)
                self._notify_stream()
                if item is None:
                    return None
                if item[0] <= self._last_ms:
                    continue  # a bar already delivered: it changes nothing
                row = kline_row(item[0], item[1], self.interval)
                live = row[0] >= self.first_live_ms
                self._store.journal_bar(row, live)
                self.replaying = False
            self._fill(row)
            self._last_ms = row[0]
            self.live_bars += live
            return True

    def _limit_reached(self):
        return self.live_bars_limit is not None and self.live_bars >= self.live_bars_limit

    def _notify_stream(self):
        status = _NOTIFICATIONS.get(self._stream.status)
        if status is not None:
            self.put_notification(getattr(self, status))
        self._store.stream_changed(self)

    def _fill(self, row):
        values = dict(zip(ROW_FIELDS, row))
        lines = self.lines
        lines.datetime[0] = bt.date2num(from_ms(values["open_time"]))
        lines.openinterest[0] = 0.0
        for name in _LINES:
            getattr(lines, name)[0] = float(values[name])

