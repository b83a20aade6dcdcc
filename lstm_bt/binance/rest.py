"""A small client for Binance's public `GET /api/v3/klines`.

It walks a time range in pages of up to 1000 rows (next start = last open time + interval, so
no boundary candle is fetched twice), retries connection errors and 5xx with exponential
backoff, waits out `429`/`418` for as long as `Retry-After` says (up to a bound, then a clear
error), and pauses before Binance's 6000-per-minute request weight runs out. Binance's error
JSON becomes a `BinanceError` whose message says what to change.

Time is bounded twice: each request has a total deadline (connecting, waiting and reading the
whole body: a server that trickles bytes is cut off), and the client a retry budget (seconds of
failed requests and waits, `Retry-After` included), after which it stops and says how long it
tried.

No answer is trusted as is: a page with rows outside the asked `[startTime, endTime]`, out of
order, more than `limit`, in the future, or a row that cannot be a bar
(`lstm_bt.data.kline_frame.kline_problem`) is asked for once more, then refused with a
`BinanceError`; so nothing wrong is stored and no range is marked fetched beyond what arrived.

The candle still in progress is never returned: a page only carries bars that had closed when
Binance answered (by the earlier of our clock and the server's `Date`).
"""

import email.utils
import logging
import time
from dataclasses import dataclass

import numpy as np
import requests
import urllib3

from .._version import __version__
from ..errors import BinanceError, InvalidParameter, NetworkError
from ..data.intervals import INTERVALS, get_interval
from ..data.kline_frame import format_open_time, kline_problem
from ._frames import ROW_FIELDS, parse_row
from ..settings import (
    ALTERNATIVE_BASE_URL,
    REQUEST_DEADLINE_ENV,
    RETRY_BUDGET_ENV,
    resolve_base_url,
    resolve_seconds,
    validate_symbol,
)

__all__ = ["BinanceClient", "KlinePage", "KLINES_PATH", "MAX_PAGE_SIZE"]

logger = logging.getLogger(__name__)

KLINES_PATH = "/api/v3/klines"
MAX_PAGE_SIZE = 1000
WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
DEFAULT_REQUEST_DEADLINE_S = 30.0
DEFAULT_RETRY_BUDGET_S = 120.0
_MAX_BACKOFF_S = 30.0
_CHUNK_BYTES = 65_536


@dataclass(frozen=True)
class KlinePage:
    """One answer from `/api/v3/klines`, reduced to closed candles.

    Attributes:
        rows: closed candles in open-time order, each a tuple `(open_time, open, high, low,
            close, volume, close_time, quote_volume, trades, taker_buy_base_volume,
            taker_buy_quote_volume)` with times in ms.
        start_ms: first open time this page answers for.
        end_ms: open times in `[start_ms, end_ms)` are settled: either in `rows` or absent
            from Binance (an outage), so they never need asking for again.
    """

    rows: list
    start_ms: int
    end_ms: int


class BinanceClient:
    """Session, paging, retries and rate limits for Binance kline requests.

    Args:
        base_url: REST root. Defaults to `None`: `LSTM_BT_BINANCE_URL`, else
            `https://api.binance.com`.
        timeout: `(connect, read)` timeouts in seconds, for one wait on the socket.
            Defaults to `(5.0, 30.0)`.
        deadline: seconds one request may take in all (connect, headers, whole body).
            Defaults to `None`: `LSTM_BT_REQUEST_DEADLINE`, else `30`.
        retry_budget: seconds this client may spend on failed requests and on waiting
            before retries (`Retry-After` included), over all its requests; past it the
            fetch stops with the time spent in the error. Defaults to `None`:
            `LSTM_BT_RETRY_BUDGET`, else `120`.
        retries: extra attempts after a connection error, a 5xx or a 429/418. Defaults to `5`.
        backoff: first wait in seconds between retries; it doubles each time (at most 30 s).
            Defaults to `0.5`.
        max_retry_after: longest `Retry-After` (seconds) worth waiting for; a longer one is an
            error. Defaults to `120.0`.
        weight_limit: used request weight per minute at which the client pauses until the next
            minute, safely below Binance's 6000. Defaults to `4800`.
        page_size: rows asked for per request, at most 1000. Defaults to `1000`.
        sleep: function used to wait (tests pass a recorder). Defaults to `time.sleep`.

    Attributes:
        requests_made: HTTP requests attempted so far, retries included.
        failing_s: seconds spent so far on failed requests and waits before retries.

    Example:
        >>> with BinanceClient() as client:  # doctest: +SKIP
        ...     pages = list(client.iter_kline_pages("BTCUSDT", "1h", 1704067200000, 1704153600000))
    """

    def __init__(self, base_url=None, *, timeout=(5.0, 30.0), deadline=None, retry_budget=None,
                 retries=5, backoff=0.5, max_retry_after=120.0, weight_limit=4800,
                 page_size=MAX_PAGE_SIZE, sleep=time.sleep):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidParameter(
                f"Received an invalid value for `page_size`, expected 1 to {MAX_PAGE_SIZE} "
                f"(Binance's most rows per request), got {page_size!r}."
            )
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.deadline = resolve_seconds(deadline, REQUEST_DEADLINE_ENV,
                                        DEFAULT_REQUEST_DEADLINE_S, "deadline")
        self.retry_budget = resolve_seconds(retry_budget, RETRY_BUDGET_ENV,
                                            DEFAULT_RETRY_BUDGET_S, "retry_budget")
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.weight_limit = weight_limit
        self.page_size = page_size
        self.requests_made = 0
        self.failing_s = 0.0
        self._sleep = sleep
        self._pause_until = 0.0
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"lstm-bt/{__version__}"

    def close(self):
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def iter_kline_pages(self, symbol, interval, start_ms, end_ms):
        """Yield the closed klines with open time in `[start_ms, end_ms)`, one page at a time.

        Args:
            symbol: Binance symbol, e.g. `"BTCUSDT"`.
            interval: Binance interval name or `Interval`.
            start_ms: first open time wanted (inclusive), ms.
            end_ms: open time after the last one wanted (exclusive), ms.

        Yields:
            `KlinePage`s in time order; together their `[start_ms, end_ms)` cover the range up
            to the candle in progress.

        Raises:
            BinanceError: Binance refused (unknown symbol, bad interval, restricted location,
                rate limit beyond the bound), or answered twice with a page that cannot be
                right.
            NetworkError: the host stayed unreachable or failing after every retry, or the
                retry budget is spent.
        """
        symbol = validate_symbol(symbol)
        step = get_interval(interval)
        page_start = start_ms
        while page_start < end_ms:
            rows, now_ms = self._checked_page(symbol, step, page_start, end_ms)
            closed = [row for row in rows if step.next_open(row[0]) <= now_ms]
            if len(closed) < len(rows):
                in_progress_open = rows[len(closed)][0]
                yield KlinePage(closed, page_start, max(page_start, in_progress_open))
                return
            if len(rows) == self.page_size:
                next_start = step.next_open(rows[-1][0])
                yield KlinePage(closed, page_start, next_start)
                page_start = next_start
                continue
            # A short page means Binance has nothing more up to endTime, except bars that
            # may still close: those opening less than one bar length before now.
            settled_end = min(end_ms, now_ms - step.longest_ms + 1)
            yield KlinePage(closed, page_start, max(page_start, settled_end))
            return

    def _checked_page(self, symbol, step, start_ms, end_ms):
        """The rows of `[start_ms, end_ms)`'s first page; a wrong answer is asked for again once."""
        for attempt in (1, 2):
            rows, now_ms = self._request_klines(symbol, step, start_ms, end_ms - 1)
            problem = _page_problem(rows, start_ms, end_ms, now_ms, self.page_size)
            if problem is None:
                return rows, now_ms
            logger.info("bad klines page for %s %s from %s (answer %d): %s", symbol, step,
                        _when(start_ms), attempt, problem)
        raise BinanceError(
            f"{self.base_url}{KLINES_PATH} answered {symbol} {step} klines from "
            f"{_when(start_ms)} that cannot be right, twice: {problem}. Nothing from these "
            f"answers was stored; run again later, or use another `--base-url` (e.g. "
            f"{ALTERNATIVE_BASE_URL})."
        )

    def _request_klines(self, symbol, step, start_ms, end_ms_inclusive):
        params = {
            "symbol": symbol,
            "interval": step.name,
            "startTime": start_ms,
            "endTime": end_ms_inclusive,
            "limit": self.page_size,
        }
        response = self._get(KLINES_PATH, params)
        now_ms = _answer_time_ms(response)
        try:
            rows = [parse_row(raw) for raw in response.json()]
        except (ValueError, TypeError, IndexError, RecursionError):
            raise BinanceError(
                f"{self.base_url}{KLINES_PATH} did not answer with Binance klines; check "
                f"`--base-url` (e.g. {ALTERNATIVE_BASE_URL}).",
                status=response.status_code,
            ) from None
        return rows, now_ms

    def _get(self, path, params):
        url = self.base_url + path
        failure = None
        for attempt in range(self.retries + 1):
            self._wait_for_weight()
            self.requests_made += 1
            began = time.monotonic()
            try:
                response = self._fetch(url, params)
            except _CONNECTION_ERRORS as error:
                why = str(error) if isinstance(error, _DeadlinePassed) else type(error).__name__
                failure = _Failure(
                    NetworkError, f"Cannot reach {self.base_url} ({why})",
                    f"Check the network, or pick another root with `--base-url` (e.g. "
                    f"{ALTERNATIVE_BASE_URL}).")
                delay = self._backoff_delay(attempt)
            else:
                self._watch_weight(response)
                status = response.status_code
                if status == 200:
                    return response
                if status in (418, 429):
                    delay = _retry_after_s(response, self._backoff_delay(attempt))
                    failure = self._rate_limited(status, delay)
                elif status >= 500:
                    failure = _Failure(
                        NetworkError, f"Binance at {self.base_url} kept failing (HTTP {status})",
                        "Try again later.")
                    delay = self._backoff_delay(attempt)
                else:
                    raise _refusal(response, params, self.base_url)
            self.failing_s += time.monotonic() - began
            if attempt == self.retries:
                break
            if self.failing_s + delay > self.retry_budget:
                raise failure.error(attempt + 1, self.failing_s, self.retry_budget)
            logger.info("%s; retrying in %.2f s", failure.what, delay)
            self._sleep(delay)
            self.failing_s += delay
        raise failure.error(self.retries + 1, self.failing_s)

    def _fetch(self, url, params):
        """GET `url`, its whole body read within `deadline` seconds of the start.

        The socket timeouts alone bound each wait, not the whole: a server sending a few bytes
        a second would keep one request alive for minutes. So the body is read as it comes
        (`read1`) and the clock is checked after each piece.
        """
        deadline = time.monotonic() + self.deadline
        connect, read = self.timeout
        response = self._session.get(url, params=params, stream=True,
                                     timeout=(min(connect, self.deadline),
                                              min(read, self.deadline)))
        try:
            body = bytearray()
            while time.monotonic() < deadline:
                piece = response.raw.read1(_CHUNK_BYTES, decode_content=True)
                if not piece:
                    break
                body += piece
            else:
                raise _DeadlinePassed(f"no whole answer within the {self.deadline:g} s request "
                                      f"deadline")
        finally:
            response.close()
        # requests keeps a read body here; `.json()` and `.text` then use it.
        response._content = bytes(body)
        return response

    def _rate_limited(self, status, wait_s):
        why = "this IP is banned for a while" if status == 418 else "rate limit reached"
        if wait_s > self.max_retry_after:
            raise BinanceError(
                f"Binance {why} (HTTP {status}) and asks to wait {wait_s:.0f} s, longer than "
                f"the {self.max_retry_after:.0f} s this client waits. Wait that long and run "
                f"again; what was stored is kept.",
                status=status,
            )
        return _Failure(BinanceError, f"Binance {why} (HTTP {status})",
                        "Wait a minute and run again; what was stored is kept.", status=status)

    def _backoff_delay(self, attempt):
        return min(self.backoff * 2**attempt, _MAX_BACKOFF_S)

    def _watch_weight(self, response):
        try:
            used = int(response.headers[WEIGHT_HEADER])
        except (KeyError, ValueError):
            return
        if used >= self.weight_limit:
            # Binance counts weight per clock minute, so the budget refills at the next one.
            self._pause_until = (time.time() // 60 + 1) * 60 + 0.5
            logger.info("request weight %d of 6000 used this minute; pausing", used)

    def _wait_for_weight(self):
        remaining = self._pause_until - time.time()
        if remaining > 0:
            self._sleep(remaining)
        self._pause_until = 0.0


class _DeadlinePassed(Exception):
    """A request ran past its total deadline."""


_CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout,
                      requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError,
                      _DeadlinePassed)


@dataclass(frozen=True)
class _Failure:
    """A failed attempt, turned into the error raised once retrying stops."""

    kind: type
    what: str
    fix: str
    status: int | None = None

    def error(self, attempts, seconds, budget=None):
        spent = (f"; the retry budget of {budget:g} s (`--retry-budget`, {RETRY_BUDGET_ENV}) "
                 f"is spent" if budget is not None else "")
        tries = f"{attempts} attempts" if attempts != 1 else "1 attempt"
        text = (f"{self.what} after {tries} and {seconds:.1f} s of failed requests and "
                f"waits{spent}. {self.fix}")
        if self.kind is BinanceError:
            return BinanceError(text, status=self.status)
        return self.kind(text)


def _page_problem(rows, start_ms, end_ms, now_ms, limit):
    """Why an answer for `[start_ms, end_ms)` cannot be right, or `None`."""
    if len(rows) > limit:
        return f"{len(rows)} rows, more than the {limit} asked for"
    if not rows:
        return None
    opens = np.array([row[0] for row in rows], dtype=np.float64)
    backwards = np.flatnonzero(np.diff(opens) <= 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        return (f"rows out of order: row {i} opens at {_when(opens[i])}, not after row {i - 1} "
                f"at {_when(opens[i - 1])}")
    if opens[0] < start_ms:
        return (f"row 0 opens at {_when(opens[0])}, before the startTime asked for "
                f"({_when(start_ms)}): the server ignores startTime")
    if opens[-1] >= end_ms:
        return (f"row {len(rows) - 1} opens at {_when(opens[-1])}, after the endTime asked for "
                f"({_when(end_ms - 1)})")
    if opens[-1] > now_ms:
        return (f"row {len(rows) - 1} opens at {_when(opens[-1])}, after the server's own clock "
                f"({_when(now_ms)})")
    array = np.array(rows, dtype=np.float64)
    return kline_problem(opens, {name: array[:, i] for i, name in enumerate(ROW_FIELDS)})


def _when(ms):
    """An open time for a message: `2024-01-05 03:00`, or the raw ms when it is no date."""
    return format_open_time(ms) or f"{ms:g} ms"


def _answer_time_ms(response):
    """The earlier of our clock and the server's `Date`, so a skewed clock never closes a bar."""
    now_ms = int(time.time() * 1000)
    try:
        served = email.utils.parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return now_ms
    return min(now_ms, int(served.timestamp() * 1000))


def _retry_after_s(response, default):
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return default


def _refusal(response, params, base_url):
    status = response.status_code
    if status == 451:
        return BinanceError(
            f"Binance refuses requests from this location (HTTP 451 at {base_url}). Use "
            f"`--base-url {ALTERNATIVE_BASE_URL}` (or set LSTM_BT_BINANCE_URL).",
            status=status,
        )
    try:
        body = response.json()
        code, message = int(body["code"]), str(body["msg"])
    except (ValueError, TypeError, KeyError, RecursionError):
        return BinanceError(
            f"{base_url}{KLINES_PATH} answered HTTP {status}, not a Binance error; check "
            f"`--base-url` (e.g. {ALTERNATIVE_BASE_URL}).",
            status=status,
        )
    if code == -1121:
        text = (f"Unknown symbol {params['symbol']!r} (Binance code -1121). "
                f"Check the spelling, e.g. BTCUSDT.")
    elif code == -1120:
        text = (f"Invalid interval {params['interval']!r} (Binance code -1120). "
                f"Use one of: {' '.join(INTERVALS)}.")
    elif code == -1100:
        text = (f"Binance found illegal characters in a parameter (code -1100: {message}). "
                f"Symbols are upper-case letters and digits, e.g. BTCUSDT.")
    else:
        text = f"Binance refused the request (HTTP {status}, code {code}: {message})."
    return BinanceError(text, code=code, status=status)
