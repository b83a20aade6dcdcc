"""Binance's closed klines for one symbol and interval, live: each bar once, in order, no gaps.

`ClosedKlines` joins two sources. Binance's kline stream
(`<stream_url>/ws/<symbol>@kline_<interval>`) brings a bar moments after it closes; REST
(`GET /api/v3/klines`, through `BinanceClient` and its checks) is the source of truth. Only
candles the stream marks closed (`k.x`) count, and only if they pass the kline row check. The
gap since the last bar had is filled over REST after every (re)connect, and whenever a bar is
late: its close time plus `late_grace_s` has passed without it. A candle at or before the last
bar had (a repeat, a late one) changes nothing; one after a gap waits until REST has filled
the gap. A bar Binance never had (an outage) is skipped, as REST shows it.

A connection is replaced when Binance announces `serverShutdown`, when it closes or drops,
when nothing arrives for `silence_s`, and before Binance's 24-hour limit (`rotate_s`).
Reconnects and failed gap fills wait a backoff that doubles up to `max_backoff_s`; while the
stream is down, bars keep coming over REST as they fall due.

All network work runs in one background thread (the websocket library answers pings in its
own), so a caller busy for minutes (a model training) stalls neither the stream nor its pings.

The contract with a caller (a backtrader feed): `start()`, then `get(timeout)` until done,
then `close()`. `get` returns `(open_time_ms, KlineRow)` for the next closed bar after
`after_ms`, or `None` when no bar came within `timeout` or when `status` just changed.
`status` is what the bars returned so far reflect: `"backfilling"` (catching up over REST
after a start or a reconnect), `"live"` (connected and caught up), `"reconnecting"` (the
stream is down; bars still come over REST), `"stopped"` (before `start`, after `close`); a
feed notifies `DELAYED`, `LIVE`, `CONNBROKEN` for the first three. A refusal that retrying
cannot mend (an unknown symbol) is raised by `get`.

Example:
    >>> with ClosedKlines("BTCUSDT", "1m", after_ms=last_open_ms) as bars:  # doctest: +SKIP
    ...     while True:
    ...         bar = bars.get(timeout=1.0)
    ...         if bar is not None:
    ...             open_ms, row = bar
    ...             print(open_ms, row.close, bars.status)
"""

import json
import math
import logging
import queue
import threading
import time
from collections import namedtuple

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from ..data.intervals import get_interval
from ..data.kline_frame import COLUMNS, format_open_time, kline_problem
from ..errors import BinanceError, InvalidParameter, NetworkError, check_int
from ..settings import resolve_base_url, resolve_stream_url, validate_symbol
from ._frames import ROW_FIELDS, parse_stream_candle
from .rest import BinanceClient

__all__ = ["ClosedKlines", "KlineRow", "STATUSES"]

logger = logging.getLogger(__name__)

KlineRow = namedtuple("KlineRow", COLUMNS)
KlineRow.__doc__ = "One closed bar: the kline frame's columns, floats except `trades` (int)."

STATUSES = ("backfilling", "live", "reconnecting", "stopped")

_COLUMN_POSITIONS = tuple(ROW_FIELDS.index(name) for name in COLUMNS)
_FIRST_BACKOFF_S = 0.5
# Routine reasons to replace a connection (logged as info, not as a warning).
_ROTATING = "rotating ahead of Binance's 24-hour limit"
_SHUTTING_DOWN = "Binance announced serverShutdown"
# A gap fill is short; past these it is tried again later (with this module's backoff)
# rather than held up.
_FILL_DEADLINE_S = 10.0
_FILL_RETRY_BUDGET_S = 30.0
_FILL_RETRIES = 2


class ClosedKlines:
    """Closed klines of one symbol and interval from `after_ms` on, live (see the module).

    Args:
        symbol: Binance symbol, e.g. `"BTCUSDT"`.
        interval: Binance interval name, e.g. `"1h"`.
        after_ms: open time (ms) of the last bar the caller already has; the first bar
            returned opens one interval later.
        base_url: REST root. Defaults to `None`: `LSTM_BT_BINANCE_URL`, else
            `https://api.binance.com`.
        stream_url: websocket root. Defaults to `None`: `LSTM_BT_STREAM_URL`, else
            `wss://stream.binance.com:9443`.
        late_grace_s: seconds after a bar's close time before it is fetched over REST when
            the stream has not brought it. Defaults to `3.0`.
        silence_s: seconds without any message after which a connection is replaced.
            Defaults to `60.0`.
        rotate_s: age in seconds at which a connection is replaced, ahead of Binance's
            24-hour limit. Defaults to `82800` (23 h).
        max_backoff_s: longest wait between reconnects and between failed gap fills; the
            wait starts at 0.5 s and doubles. Defaults to `30.0`.
        clock: function giving the time in seconds since the epoch. Defaults to `time.time`.

    Attributes:
        status: one of `STATUSES`, as of the last `get`.
        url: the kline stream's URL.
    """

    def __init__(self, symbol, interval, *, after_ms, base_url=None, stream_url=None,
                 late_grace_s=3.0, silence_s=60.0, rotate_s=23 * 3600.0, max_backoff_s=30.0,
                 clock=time.time):
        self.symbol = validate_symbol(symbol)
        self.interval = get_interval(interval)
        self.after_ms = check_int("after_ms", after_ms)
        self.base_url = resolve_base_url(base_url)
        self.url = (f"{resolve_stream_url(stream_url)}/ws/{self.symbol.lower()}"
                    f"@kline_{self.interval.name}")
        self.late_grace_s = _seconds("late_grace_s", late_grace_s)
        self.silence_s = _seconds("silence_s", silence_s)
        self.rotate_s = _seconds("rotate_s", rotate_s)
        self.max_backoff_s = _seconds("max_backoff_s", max_backoff_s)
        self.clock = clock
        self.status = "stopped"
        self._events = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._worker = None
        self._thread = None

    def start(self):
        """Start catching up and listening in a background thread; returns `self`."""
        if self._thread is not None:
            raise RuntimeError("ClosedKlines.start() was already called; make a new one.")
        self.status = "backfilling"
        self._worker = _Worker(self, self._events, self._stopping)
        self._thread = threading.Thread(target=self._worker.run, daemon=True,
                                        name=f"lstm-bt stream {self.symbol} {self.interval}")
        self._thread.start()
        return self

    def get(self, timeout=None):
        """The next closed bar, or `None` if none came within `timeout` or `status` changed.

        Args:
            timeout: seconds to wait; `None` waits until a bar or a status change comes.
                Defaults to `None`.

        Returns:
            `(open_time_ms, KlineRow)` or `None`.

        Raises:
            BinanceError: Binance refused in a way retrying cannot mend (e.g. unknown symbol);
                the source has stopped.
        """
        try:
            kind, value = self._events.get(timeout=timeout)
        except queue.Empty:
            return None
        if kind == "bar":
            return value
        if kind == "status":
            self.status = value
            return None
        self.status = "stopped"
        raise value

    def close(self, timeout=15.0):
        """Stop the background thread and close the connection (waits up to `timeout` s)."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
        self.status = "stopped"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()


class _Stopped(Exception):
    """`close` was called while the worker waited."""


class _Worker:
    """The background thread's state and loop: connect, receive, fill gaps, hand bars over."""

    def __init__(self, source, events, stopping):
        self.source = source
        self.step = source.interval
        self.clock = source.clock
        self.events = events
        self.stopping = stopping
        self.expected_ms = self.step.next_open(source.after_ms)  # first open time not had
        self.pending = {}  # closed candles from the stream that came after a gap
        self.connection = None
        self.backoff_s = _FIRST_BACKOFF_S
        self.need_fill = True
        self.fill_at = 0.0
        self.fill_retry_s = _FIRST_BACKOFF_S
        self.status = "backfilling"

    def run(self):
        try:
            while True:
                why = self.use_one_connection()
                self.wait_to_reconnect(why)
        except _Stopped:
            pass
        except Exception as error:  # noqa: BLE001 - handed to the caller, raised by `get`
            self.events.put(("error", error))

    def interrupt(self):
        """Wake the thread from another one (its `recv` ends when the connection closes)."""
        connection = self.connection
        if connection is not None:
            connection.close()

    def use_one_connection(self):
        """Connect, fill the gap, and hand bars over; returns why the connection ended."""
        try:
            with connect(self.source.url, open_timeout=10, close_timeout=2) as connection:
                self.connection = connection
                if self.stopping.is_set():
                    raise _Stopped
                logger.info("connected to %s", self.source.url)
                self.need_fill = True
                self.fill_at = 0.0
                self.publish("backfilling")
                return self.listen(connection)
        except (OSError, TimeoutError, WebSocketException) as error:
            return f"cannot connect ({error})"
        finally:
            self.connection = None

    def listen(self, connection):
        connected_at = heard_at = self.clock()
        while True:
            now = self.clock()
            if now - heard_at >= self.source.silence_s:
                return f"no message for {self.source.silence_s:g} s"
            if now - connected_at >= self.source.rotate_s:
                return _ROTATING
            self.fill_if_due()
            wake_at = min(self.next_fill_at(), heard_at + self.source.silence_s,
                          connected_at + self.source.rotate_s)
            try:
                message = connection.recv(timeout=max(wake_at - self.clock(), 0.01))
            except TimeoutError:
                continue
            except ConnectionClosed as closed:
                if self.stopping.is_set():
                    raise _Stopped from None
                return f"connection closed ({closed})"
            heard_at = self.clock()
            if self.on_message(message) == "serverShutdown":
                return _SHUTTING_DOWN

    def wait_to_reconnect(self, why):
        """Wait the backoff, filling gaps over REST as bars fall due."""
        level = logging.INFO if why in (_ROTATING, _SHUTTING_DOWN) else logging.WARNING
        logger.log(level, "kline stream %s: %s; reconnecting in %.1f s", self.source.url, why,
                   self.backoff_s)
        self.publish("reconnecting")
        connect_at = self.clock() + self.backoff_s
        self.backoff_s = min(2 * self.backoff_s, self.source.max_backoff_s)
        while (now := self.clock()) < connect_at:
            self.fill_if_due()
            if self.stopping.wait(max(min(self.next_fill_at(), connect_at) - now, 0.01)):
                raise _Stopped

    def due_at(self):
        """When the bar expected next is late: its close time plus the grace, in seconds."""
        return self.step.next_open(self.expected_ms) / 1000 + self.source.late_grace_s

    def next_fill_at(self):
        return self.fill_at if self.need_fill else max(self.due_at(), self.fill_at)

    def fill_if_due(self):
        if self.clock() >= self.next_fill_at():
            self.fill()

    def on_message(self, message):
        try:
            event = json.loads(message)
            kind = event.get("e")
        except (ValueError, TypeError, AttributeError):
            logger.warning("ignoring a stream message that is no Binance event: %.80r", message)
            return
        if kind != "kline":
            return kind
        self.backoff_s = _FIRST_BACKOFF_S
        candle = _closed_candle(event, self.source.symbol, self.step)
        if candle is None or candle[0] < self.expected_ms:
            return  # in progress, a repeat, or one REST brought first
        if candle[0] > self.expected_ms:
            self.pending[candle[0]] = candle[1]
            self.need_fill = True
            return
        self.emit(*candle)
        self.emit_pending()
        self.publish("live")  # the next bar came in order: nothing left to catch up

    def fill(self):
        """Fetch the bars from the one expected next up to now over REST, and hand them over."""
        symbol, start = self.source.symbol, self.expected_ms
        try:
            with BinanceClient(self.source.base_url, deadline=_FILL_DEADLINE_S,
                               retry_budget=_FILL_RETRY_BUDGET_S, retries=_FILL_RETRIES,
                               sleep=self.sleep) as client:
                end_ms = int(self.clock() * 1000) + 1
                for page in client.iter_kline_pages(symbol, self.step, start, end_ms):
                    for row in page.rows:
                        if row[0] >= self.expected_ms:
                            self.emit(row[0], _kline_row(row))
                    if page.end_ms > self.expected_ms:
                        self.skip_absent_bars(page.end_ms)
        except (NetworkError, BinanceError) as error:
            if not _worth_retrying(error):
                raise
            logger.warning("filling %s %s bars over REST failed (%s); retrying in %.1f s",
                           symbol, self.step, error, self.fill_retry_s)
            self.retry_fill_later()
            return
        self.need_fill = False
        self.emit_pending()
        if self.clock() >= self.due_at():
            self.retry_fill_later()  # REST did not have the late bar yet
        if self.connection is not None:
            self.publish("live")

    def skip_absent_bars(self, settled_ms):
        """Step past the bars REST settled as never traded (an outage on Binance's side)."""
        first = self.expected_ms
        while self.expected_ms < settled_ms:
            self.expected_ms = self.step.next_open(self.expected_ms)
        logger.warning("Binance has no %s %s bars from %s to %s; skipped", self.source.symbol,
                       self.step, format_open_time(first), format_open_time(self.expected_ms))

    def retry_fill_later(self):
        self.fill_at = self.clock() + self.fill_retry_s
        self.fill_retry_s = min(2 * self.fill_retry_s, self.source.max_backoff_s)

    def emit(self, open_ms, row):
        self.events.put(("bar", (open_ms, row)))
        self.expected_ms = self.step.next_open(open_ms)
        self.fill_retry_s = _FIRST_BACKOFF_S

    def emit_pending(self):
        for open_ms in sorted(self.pending):
            if open_ms == self.expected_ms:
                self.emit(open_ms, self.pending.pop(open_ms))
            elif open_ms < self.expected_ms:
                del self.pending[open_ms]

    def publish(self, status):
        if status != self.status:
            self.status = status
            self.events.put(("status", status))

    def sleep(self, seconds):
        """The REST client's wait between retries, cut short by `close`."""
        if self.stopping.wait(seconds):
            raise _Stopped


def _closed_candle(event, symbol, step):
    """`(open_ms, KlineRow)` of a kline event's candle if it is closed and sound, else None."""
    candle = event.get("k")
    if not isinstance(candle, dict) or candle.get("x") is not True:
        return None
    try:
        row = parse_stream_candle(candle)
    except (KeyError, TypeError, ValueError):
        problem = f"fields missing or not numbers in {candle!r:.200}"
    else:
        if candle.get("s") != symbol or candle.get("i") != step.name:
            problem = f"{candle.get('s')} {candle.get('i')} candle on the {symbol} {step} stream"
        elif row[6] != step.close_ms(row[0]):
            problem = f"close time {row[6]} does not end a {step} bar opening at {row[0]}"
        else:
            problem = kline_problem([row[0]], dict(zip(ROW_FIELDS, ([value] for value in row))))
    if problem is not None:
        logger.warning("ignoring a closed stream candle (REST will bring it): %s", problem)
        return None
    return row[0], _kline_row(row)


def _kline_row(row):
    return KlineRow(*(row[i] for i in _COLUMN_POSITIONS))


def _worth_retrying(error):
    """Whether a failed fill may succeed later: network trouble, rate limits, 5xx, bad pages."""
    status = getattr(error, "status", None)
    return isinstance(error, NetworkError) or status in (None, 418, 429) or status >= 500


def _seconds(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise InvalidParameter(f"Received an invalid value for `{name}`, expected a positive "
                               f"number of seconds, got {value!r}.")
    return float(value)
