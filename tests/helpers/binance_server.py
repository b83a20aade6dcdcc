"""A real HTTP server on 127.0.0.1 that speaks Binance's `GET /api/v3/klines`.

It follows the public API where the client depends on it: rows with open time in
`[startTime, endTime]`, at most `limit` of them (default 500, max 1000), 12-field rows with
decimal strings, error JSON `{"code": .., "msg": ..}` with Binance's HTTP statuses, the
`X-MBX-USED-WEIGHT-1M` header (weight 2 a request), `429` with `Retry-After` past the weight limit,
and the candle in progress at "now" served with partial values. `now` can be pinned, and the
`Date` header follows it, as a real server's clock would.

Faults are scripted (`fail`, `drop`, `go_down_after`), answers can be made wrong (`misbehave`:
a row in 2100, rows past `endTime`, `startTime` ignored, a reversed page, a NaN close) or slow
(`hang`, `trickle`), and every request is logged.

Example:
    with BinanceTestServer() as server:
        server.serve("BTCUSDT", "1h", random_walk(10_000, start="2024-01-01"))
        client = BinanceClient(server.url)
        ...
        assert len(server.klines_requests) == 9
"""

import email.utils
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from lstm_bt.data.intervals import INTERVALS

KLINES_PATH = "/api/v3/klines"
KLINES_WEIGHT = 2
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9\-_.]{1,20}$")
RESTRICTED_MSG = ("Service unavailable from a restricted location according to 'b. Eligibility' "
                  "in https://www.binance.com/en/terms.")


@dataclass(frozen=True)
class Request:
    """One request the server received: path, query parameters, and the status it got
    (`None` when the connection was dropped instead)."""

    path: str
    params: dict
    status: int | None


class BinanceTestServer:
    """Binance klines over HTTP on an ephemeral loopback port.

    Args:
        now_ms: the server's clock in ms; `None` follows the real clock. Settable later.

    Attributes:
        url: base URL to give the client, e.g. `http://127.0.0.1:54321`.
        log: every `Request`, in arrival order.
        used_weight: request weight used in the current minute (settable).
        weight_limit: weight per minute past which requests get `429`. Defaults to 6000.
        reset_weight_each_minute: start each clock minute at weight 0, as Binance does;
            tests that pin `used_weight` turn this off.
        restricted: answer every request with HTTP 451.
        delay: seconds to wait before answering each request.
    """

    def __init__(self, now_ms=None):
        self.now_ms = now_ms
        self.log = []
        self.used_weight = 0
        self.weight_limit = 6000
        self.reset_weight_each_minute = True
        self.restricted = False
        self.delay = 0.0
        self._series = {}
        self._faults = deque()
        self._answers_before_down = None
        self._misbehaviours = deque()
        self._slow = None
        self._stopping = threading.Event()
        self._weight_minute = int(time.time() // 60)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.binance = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = None

    def start(self):
        """Start answering in a background thread; returns the server."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop answering and free the port (a hung or trickling answer ends too)."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def serve(self, symbol, interval, frame):
        """Serve a kline frame (see `lstm_bt.data.kline_frame`) as `symbol` at `interval`."""
        step = INTERVALS[interval]
        open_ms = frame.index.values.astype("datetime64[ms]").astype(np.int64)
        values = frame.to_numpy()
        rows = [_row(int(ms), bar, step) for ms, bar in zip(open_ms, values)]
        self._series[symbol, interval] = (open_ms, rows, step)

    @property
    def klines_requests(self):
        """The logged requests to `/api/v3/klines`, dropped ones included."""
        return [request for request in self.log if request.path == KLINES_PATH]

    def fail(self, status, times=1, *, code=None, msg=None, retry_after=None):
        """Answer the next `times` requests with `status` (and Binance error JSON if `code`)."""
        for _ in range(times):
            self._faults.append(("fail", status, code, msg, retry_after))

    def drop(self, times=1):
        """Close the connection of the next `times` requests without answering."""
        for _ in range(times):
            self._faults.append(("drop",))

    def go_down_after(self, answers):
        """Drop every request after `answers` more successful answers; `None` heals."""
        self._answers_before_down = answers

    def misbehave(self, kind, times=1):
        """Answer the next `times` kline requests wrongly (`times=None`: every one from now).

        Kinds: `"future_row"` (the last row opens in 2100), `"past_end_time"` (`limit` and
        `endTime` ignored: 50 rows more than asked, past the end), `"ignore_start_time"` (every
        answer starts at the first bar served), `"reversed"` (rows newest first), `"nan_close"`
        (the middle row's close is "NaN").
        """
        if kind not in _MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {kind!r}; one of {sorted(_MISBEHAVIOURS)}")
        self._misbehaviours.append((kind, times))

    def hang(self, seconds=60.0):
        """Send nothing for `seconds` before each answer (until `stop` or `heal`)."""
        self._slow = ("hang", seconds)

    def trickle(self, bytes_per_second=50):
        """Send each answer's body a few bytes at a time, `bytes_per_second` (until `heal`)."""
        self._slow = ("trickle", bytes_per_second)

    def heal(self):
        """Answer at full speed again and forget pending misbehaviours."""
        self._slow = None
        self._misbehaviours.clear()

    def clock_ms(self):
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)

    def _handle(self, path, params):
        """Decide the answer: `None` to drop, else `(status, headers, body)`."""
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            if self._answers_before_down is not None:
                if self._answers_before_down <= 0:
                    fault = ("drop",)
                elif fault is None:
                    self._answers_before_down -= 1
            if fault and fault[0] == "drop":
                self.log.append(Request(path, params, None))
                return None
            answer = self._answer(path, params, fault)
            self.log.append(Request(path, params, answer[0]))
            return answer

    def _answer(self, path, params, fault):
        minute = int(time.time() // 60)
        if self.reset_weight_each_minute and minute != self._weight_minute:
            self._weight_minute, self.used_weight = minute, 0
        self.used_weight += KLINES_WEIGHT
        headers = {"X-MBX-USED-WEIGHT-1M": str(self.used_weight)}
        if fault:
            _, status, code, msg, retry_after = fault
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            body = {"code": code, "msg": msg or "scripted fault"} if code else None
            return status, headers, body
        if self.used_weight > self.weight_limit:
            headers["Retry-After"] = str(60 - int(time.time()) % 60)
            return 429, headers, _error(-1003, "Too many requests; current limit of IP is "
                                               f"{self.weight_limit} requests per minute.")
        if self.restricted:
            return 451, headers, _error(0, RESTRICTED_MSG)
        if path != KLINES_PATH:
            return 404, headers, None
        status, body = self._klines(params)
        return status, headers, body

    def _klines(self, params):
        symbol, interval = params.get("symbol"), params.get("interval")
        if not symbol:
            return 400, _error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, "
                                      "or malformed.")
        if not SYMBOL_PATTERN.match(symbol):
            return 400, _error(-1100, "Illegal characters found in parameter 'symbol'; legal "
                                      "range is '^[A-Z0-9-_.]{1,20}$'.")
        if not interval:
            return 400, _error(-1102, "Mandatory parameter 'interval' was not sent, was "
                                      "empty/null, or malformed.")
        if interval not in INTERVALS:
            return 400, _error(-1120, "Invalid interval.")
        if not any(key[0] == symbol for key in self._series):
            return 400, _error(-1121, "Invalid symbol.")
        try:
            limit = int(params.get("limit", 500))
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return 400, _error(-1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= 1000:
            return 400, _error(-1130, "Invalid data sent for a parameter.")
        if start is not None and end is not None and start > end:
            return 400, _error(-1023, "Start time is greater than end time.")
        open_ms, rows, step = self._series.get((symbol, interval), (np.empty(0), [], None))
        now = self.clock_ms()
        last = int(np.searchsorted(open_ms, min(now, end if end is not None else now), "right"))
        if start is None:
            first = max(0, last - limit)
        else:
            first = int(np.searchsorted(open_ms, start, "left"))
            last = min(last, first + limit)
        answer = rows[first:max(first, last)]
        if answer and step.next_open(int(open_ms[first + len(answer) - 1])) > now:
            answer = answer[:-1] + [_in_progress(answer[-1])]
        misbehaviour = self._next_misbehaviour()
        if misbehaviour:
            answer = _MISBEHAVIOURS[misbehaviour](answer, rows, first, limit)
        return 200, answer

    def _next_misbehaviour(self):
        if not self._misbehaviours:
            return None
        kind, times = self._misbehaviours[0]
        if times is not None:
            if times <= 1:
                self._misbehaviours.popleft()
            else:
                self._misbehaviours[0] = (kind, times - 1)
        return kind


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def do_GET(self):
        server = self.server.binance
        url = urlsplit(self.path)
        if server.delay:
            time.sleep(server.delay)
        answer = server._handle(url.path, dict(parse_qsl(url.query)))
        if answer is None:
            self.close_connection = True
            return
        status, headers, body = answer
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        slow = server._slow
        if slow and slow[0] == "hang" and server._stopping.wait(slow[1]):
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json" if body is not None else "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if slow and slow[0] == "trickle":
            self._trickle(payload, slow[1], server._stopping)
        else:
            self.wfile.write(payload)

    def _trickle(self, payload, bytes_per_second, stopping):
        piece = max(1, bytes_per_second // 10)
        try:
            for begin in range(0, len(payload), piece):
                if stopping.wait(0.1):
                    return
                self.wfile.write(payload[begin:begin + piece])
                self.wfile.flush()
        except OSError:  # the client gave up
            self.close_connection = True

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(self.server.binance.clock_ms() / 1000, usegmt=True)

    def log_message(self, *args):
        pass


def _row(open_ms, bar, step):
    open_, high, low, close, volume, quote, trades, taker_base, taker_quote = bar
    return [
        open_ms, f"{open_:.8f}", f"{high:.8f}", f"{low:.8f}", f"{close:.8f}", f"{volume:.8f}",
        step.close_ms(open_ms), f"{quote:.8f}", int(trades), f"{taker_base:.8f}",
        f"{taker_quote:.8f}", "0",
    ]


def _in_progress(row):
    """The same bar seen before it closed: close halfway from the open, half the volume."""
    partial = list(row)
    partial[4] = f"{(float(row[1]) + float(row[4])) / 2:.8f}"
    for field in (5, 7, 9, 10):
        partial[field] = f"{float(row[field]) / 2:.8f}"
    partial[8] = row[8] // 2
    return partial


def _future_row(answer, rows, first, limit):
    """The last row opens in 2100: a page of which only the end is wrong."""
    if not answer:
        return answer
    last = list(answer[-1])
    last[0], last[6] = 4102444800000, 4102444800000 + 3_599_999
    return answer[:-1] + [last]


def _past_end_time(answer, rows, first, limit):
    """`limit` and `endTime` ignored: 50 rows more than asked for, running past the end."""
    return rows[first:first + limit + 50]


def _ignore_start_time(answer, rows, first, limit):
    """As if `startTime` were 0: always the first bars served."""
    return rows[:limit]


def _reversed(answer, rows, first, limit):
    return answer[::-1]


def _nan_close(answer, rows, first, limit):
    if not answer:
        return answer
    middle = len(answer) // 2
    row = list(answer[middle])
    row[4] = "NaN"
    return answer[:middle] + [row] + answer[middle + 1:]


_MISBEHAVIOURS = {
    "future_row": _future_row,
    "past_end_time": _past_end_time,
    "ignore_start_time": _ignore_start_time,
    "reversed": _reversed,
    "nan_close": _nan_close,
}


def _error(code, msg):
    return {"code": code, "msg": msg}
