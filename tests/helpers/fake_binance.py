"""A fake Binance on 127.0.0.1 for live tests: REST and the kline stream, in real time.

Bars are a kline frame whose open times follow the real clock: `history` bars have closed when
the fake starts, and one more closes every interval after. REST is `BinanceTestServer` on the
real clock (so the candle in progress is served with partial values and hidden from closed
pages, as Binance does), plus `GET /api/v3/exchangeInfo` with the symbol's PRICE_FILTER,
LOT_SIZE and NOTIONAL filters. The websocket server (`websockets.sync.server`) serves
`/ws/<symbol>@kline_<interval>` as Binance does: for each bar, `updates_per_bar` candles with
`x: false` spread over the bar, then the closed candle (`x: true`) just after its close. It
pings every `ping_interval` s and drops a connection that does not answer in `ping_timeout` s.

Faults, injected at any time (each returns the open times it touches, in ms):
- `drop(outage_s)`: every connection is cut mid-bar (no close frame); new ones are refused
  with HTTP 503 for `outage_s`.
- `repeat_closed(times)`: the next closed candles are sent twice, followed by the one before.
- `go_silent(seconds)`: nothing is sent for `seconds` (pings are still answered).
- `announce_shutdown(grace_s)`: `serverShutdown` on every connection, closed `grace_s` later.
- `delay_closed(seconds)`: the next closed candle comes `seconds` late, after later ones.
- `withhold_closed(times, start_ms)`: the next closed candles (or those from the bar opening
  at `start_ms`) never come on the stream.
- `corrupt_closed(times)`: the next closed candles come with a close of "NaN".
- `absent`: bars Binance never had (an outage): neither REST nor the stream has them.
- `max_connection_s`: each connection is closed at that age (Binance's 24-hour limit).

Example:
    with FakeBinance(history=30) as fake:
        source = ClosedKlines("BTCUSDT", "1s", after_ms=fake.open_ms(-5),
                              base_url=fake.rest_url, stream_url=fake.stream_url)
        ...
        assert bars == fake.closed_bars(after_ms, last_ms)
"""

import json
import socket
import threading
import time
from dataclasses import dataclass

import pandas as pd
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from lstm_bt.data.intervals import INTERVALS
from lstm_bt.data.synthetic import random_walk

from .binance_server import BinanceTestServer, _in_progress, _row

EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"
# Sent this long after a bar's close, as Binance's closed candle follows the close closely.
_CLOSE_DELAY_MS = 5
DEFAULT_FILTERS = {
    "min_price": "0.01000000", "max_price": "1000000.00000000", "tick_size": "0.01000000",
    "min_qty": "0.00001000", "max_qty": "9000.00000000", "step_size": "0.00001000",
    "min_notional": "5.00000000", "max_notional": "9000000.00000000",
}


@dataclass
class StreamConnection:
    """One websocket connection the fake accepted: its path, when it opened and closed (s),
    and the close code (`None` while open, 1006 when it was cut without a close frame)."""

    path: str
    opened_at: float
    closed_at: float | None = None
    close_code: int | None = None


class FakeBinance:
    """REST and kline stream for one symbol and interval, playing bars on the real clock.

    Args:
        symbol: the symbol served. Defaults to `"BTCUSDT"`.
        interval: the interval served. Defaults to `"1s"`.
        history: bars already closed at the start. Defaults to `60`.
        bars: bars after those (the stream's future). Defaults to `3600`.
        frame: a kline frame whose values are played instead of a random walk (its index is
            replaced by clock-aligned open times); `history + bars` rows are used.
            Defaults to `None`.
        seed: seed of the random walk. Defaults to `0`.
        updates_per_bar: `x: false` candles per bar. Defaults to `2`.
        ping_interval: seconds between the server's pings. Defaults to `20.0`.
        ping_timeout: seconds the server waits for a pong before dropping. Defaults to `20.0`.
        max_connection_s: age at which the server closes a connection. Defaults to `None`.
        absent: positions (from the first bar) of bars that never traded. Defaults to none.
        filters: exchangeInfo filter values to change (keys of `DEFAULT_FILTERS`).

    Attributes:
        rest: the `BinanceTestServer` (its `log` has every REST request).
        rest_url, stream_url: roots to give the client.
        connections: every `StreamConnection`, in order.
        refused: connections refused during a `drop` outage.
        frame: the bars served (index = open time).
    """

    def __init__(self, symbol="BTCUSDT", interval="1s", *, history=60, bars=3600, frame=None,
                 seed=0, updates_per_bar=2, ping_interval=20.0, ping_timeout=20.0,
                 max_connection_s=None, absent=(), filters=None):
        self.symbol, self.step = symbol, INTERVALS[interval]
        self.bar_ms = self.step.ms
        self.first_open_ms = (int(time.time() * 1000) // self.bar_ms - history) * self.bar_ms
        start = pd.Timestamp(self.first_open_ms, unit="ms")
        if frame is None:
            frame = random_walk(history + bars, interval=interval, start=start, seed=seed)
        else:
            frame = frame.iloc[:history + bars].copy()
            frame.index = pd.date_range(start, periods=len(frame), freq=f"{self.bar_ms}ms",
                                        name="datetime")
        self.frame = frame
        self.absent = {self.first_open_ms + i * self.bar_ms for i in absent}
        self._rows = [_row(self.first_open_ms + i * self.bar_ms, bar, self.step)
                      for i, bar in enumerate(frame.to_numpy())]
        self.updates_per_bar = updates_per_bar
        self.max_connection_s = max_connection_s
        self.stream_path = f"/ws/{symbol.lower()}@kline_{interval}"
        self.connections = []
        self.refused = 0
        self.rest = _RestServer(_exchange_info(symbol, {**DEFAULT_FILTERS, **(filters or {})}))
        self.rest.serve(symbol, interval, frame.drop(frame.index[list(absent)]))
        self.rest_url = self.rest.url
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._drops = 0
        self._refuse_until = 0.0
        self._silent_until = 0.0
        self._shutdowns = 0
        self._shutdown_grace_s = 0.0
        self._repeated, self._withheld, self._corrupt, self._delayed = set(), set(), set(), {}
        self._ws = serve(self._handle, "127.0.0.1", 0, ping_interval=ping_interval,
                         ping_timeout=ping_timeout, process_request=self._admit)
        self.stream_url = f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}"
        self._ws_thread = None

    def start(self):
        self.rest.start()
        self._ws_thread = threading.Thread(target=self._ws.serve_forever, daemon=True)
        self._ws_thread.start()
        return self

    def stop(self):
        self._stopping.set()
        self._ws.shutdown()
        self._ws_thread.join(5)
        self.rest.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def open_ms(self, index):
        """Open time of bar `index` (negative: counted back from the bar in progress now)."""
        if index < 0:
            index += self._bar_index(time.time() * 1000) + 1
        return self.first_open_ms + index * self.bar_ms

    def closed_bars(self, after_ms, last_ms):
        """`(open_ms, values)` of the bars opening in `(after_ms, last_ms]`, values in the kline
        frame's column order, as a client parses them from what is served."""
        first = (after_ms - self.first_open_ms) // self.bar_ms + 1
        last = (last_ms - self.first_open_ms) // self.bar_ms
        return [(row[0], _values(row)) for row in self._rows[first:last + 1]
                if row[0] not in self.absent]

    def wait_for_close(self, open_ms):
        """Sleep until the bar opening at `open_ms` has closed and its candle was sent."""
        time.sleep(max(0.0, (open_ms + self.bar_ms + 2 * _CLOSE_DELAY_MS) / 1000 - time.time()))

    def drop(self, outage_s=0.0):
        with self._lock:
            self._drops += 1
            self._refuse_until = time.time() + outage_s
        return [self._next_close_ms()]

    def repeat_closed(self, times=3):
        return self._target(self._repeated, times)

    def withhold_closed(self, times=1, start_ms=None):
        return self._target(self._withheld, times, start_ms)

    def corrupt_closed(self, times=1):
        return self._target(self._corrupt, times)

    def delay_closed(self, seconds):
        opens = self._target(set(), 1)
        with self._lock:
            self._delayed[opens[0]] = opens[0] + self.bar_ms + seconds * 1000
        return opens

    def go_silent(self, seconds):
        with self._lock:
            self._silent_until = time.time() + seconds
        return [self._next_close_ms() + i * self.bar_ms
                for i in range(int(seconds * 1000 // self.bar_ms) + 1)]

    def announce_shutdown(self, grace_s=0.5):
        with self._lock:
            self._shutdowns += 1
            self._shutdown_grace_s = grace_s
        return [self._next_close_ms()]

    def _target(self, bucket, times, start_ms=None):
        first = self._next_close_ms() if start_ms is None else start_ms
        opens = [first + i * self.bar_ms for i in range(times)]
        with self._lock:
            bucket.update(opens)
        return opens

    def _next_close_ms(self):
        return self.open_ms(-1)

    def _bar_index(self, ms):
        return int((ms - self.first_open_ms) // self.bar_ms)

    def _admit(self, connection, request):
        if time.time() < self._refuse_until:
            self.refused += 1
            return connection.respond(503, "Service unavailable (scripted outage)\n")
        return None

    def _handle(self, connection):
        record = StreamConnection(connection.request.path, time.time())
        self.connections.append(record)
        try:
            if record.path != self.stream_path:
                connection.close(1008, "unknown stream")
                return
            self._play(connection, record)
        except ConnectionClosed:
            pass
        finally:
            connection.close()
            record.closed_at = time.time()
            record.close_code = connection.close_code if connection.close_code else 1006

    def _play(self, connection, record):
        """Send each slot's messages on time until the connection ends or the fake stops."""
        slots = self.updates_per_bar + 1
        slot_ms = self.bar_ms / slots
        slot = int((time.time() * 1000 - self.first_open_ms - _CLOSE_DELAY_MS) // slot_ms) + 1
        drops, shutdowns = self._drops, self._shutdowns
        close_at, sent_late = None, set()
        while True:
            due = (self.first_open_ms + slot * slot_ms + _CLOSE_DELAY_MS) / 1000
            if self._stopping.wait(max(0.0, due - time.time())):
                return
            now = time.time()
            age = now - record.opened_at
            if self.max_connection_s is not None and age >= self.max_connection_s:
                return
            if close_at is not None and now >= close_at:
                return
            bar, phase = divmod(slot, slots)
            slot += 1
            with self._lock:
                if phase and self._drops != drops:
                    connection.socket.shutdown(socket.SHUT_RDWR)  # cut, no close frame
                    return
                messages = [] if now < self._silent_until else self._messages(
                    bar, phase, sent_late, now)
                if self._shutdowns != shutdowns:
                    shutdowns = self._shutdowns
                    close_at = now + self._shutdown_grace_s
                    messages.append({"e": "serverShutdown", "E": int(now * 1000)})
            for message in messages:
                connection.send(json.dumps(message, separators=(",", ":")))

    def _messages(self, bar, phase, sent_late, now):
        """What one connection sends at a slot: an update, or the closed candle of the bar
        before, as faults allow, and any delayed closed candle now due."""
        messages = []
        if phase:
            if self.first_open_ms + bar * self.bar_ms not in self.absent:
                messages.append(self._event(bar, closed=False))
        else:
            open_ms = self.first_open_ms + (bar - 1) * self.bar_ms
            if open_ms in self._corrupt:
                messages.append(self._event(bar - 1, closed=True, c="NaN"))
            elif not {open_ms} & (self._withheld | self._delayed.keys() | self.absent):
                messages.append(self._event(bar - 1, closed=True))
                if open_ms in self._repeated:
                    messages += [self._event(bar - 1, closed=True),
                                 self._event(bar - 2, closed=True)]
        for open_ms, send_ms in self._delayed.items():
            if send_ms <= now * 1000 and open_ms not in sent_late:
                sent_late.add(open_ms)
                messages.append(self._event(self._bar_index(open_ms), closed=True))
        return messages

    def _event(self, bar, closed, **changed):
        row = self._rows[bar] if closed else _in_progress(self._rows[bar])
        fields = dict(zip(("t", "o", "h", "l", "c", "v", "T", "q", "n", "V", "Q"), row))
        fields.update(changed)
        kline = {**fields, "s": self.symbol, "i": self.step.name, "f": 100, "L": 200,
                 "x": closed, "B": "0"}
        return {"e": "kline", "E": int(time.time() * 1000), "s": self.symbol, "k": kline}


class _RestServer(BinanceTestServer):
    """`BinanceTestServer` that also answers `GET /api/v3/exchangeInfo`."""

    def __init__(self, exchange_info):
        super().__init__()
        self.exchange_info = exchange_info

    def _answer(self, path, params, fault):
        if path != EXCHANGE_INFO_PATH or fault or self.restricted:
            return super()._answer(path, params, fault)
        symbols = self.exchange_info["symbols"]
        if "symbol" in params:
            symbols = [entry for entry in symbols if entry["symbol"] == params["symbol"]]
            if not symbols:
                return 400, {}, {"code": -1121, "msg": "Invalid symbol."}
        body = {**self.exchange_info, "serverTime": self.clock_ms(), "symbols": symbols}
        return 200, {"X-MBX-USED-WEIGHT-1M": str(self.used_weight)}, body


def _exchange_info(symbol, filters):
    quote = next((q for q in ("USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB")
                  if symbol.endswith(q) and symbol != q), symbol[-3:])
    return {
        "timezone": "UTC",
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [{
            "symbol": symbol, "status": "TRADING",
            "baseAsset": symbol[:-len(quote)], "baseAssetPrecision": 8,
            "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT",
                           "TAKE_PROFIT_LIMIT"],
            "isSpotTradingAllowed": True,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": filters["min_price"],
                 "maxPrice": filters["max_price"], "tickSize": filters["tick_size"]},
                {"filterType": "LOT_SIZE", "minQty": filters["min_qty"],
                 "maxQty": filters["max_qty"], "stepSize": filters["step_size"]},
                {"filterType": "NOTIONAL", "minNotional": filters["min_notional"],
                 "applyMinToMarket": True, "maxNotional": filters["max_notional"],
                 "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
        }],
    }


def _values(row):
    """A served row's values in the kline frame's column order, parsed as a client would."""
    return (float(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5]),
            float(row[7]), int(row[8]), float(row[9]), float(row[10]))
