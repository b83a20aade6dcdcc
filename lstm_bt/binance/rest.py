"""A small client for Binance's public `GET /api/v3/klines`.

It walks a time range in pages of up to 1000 rows (next start = last open time + interval, so
no boundary candle is fetched twice), retries connection errors and 5xx with exponential
backoff, waits out `429`/`418` for as long as `Retry-After` says (up to a bound, then a clear
error), and pauses before Binance's 6000-per-minute request weight runs out. Binance's error
JSON becomes a `BinanceError` whose message says what to change.

The candle still in progress is never returned: a page only carries bars that had closed when
Binance answered (by the earlier of our clock and the server's `Date`).
"""

import email.utils
import logging
import time
from dataclasses import dataclass

import requests

from .._version import __version__
from ..errors import BinanceError, InvalidParameter, NetworkError
from ..intervals import INTERVALS, get_interval
from .settings import ALTERNATIVE_BASE_URL, resolve_base_url, validate_symbol

__all__ = ["BinanceClient", "KlinePage", "KLINES_PATH", "MAX_PAGE_SIZE"]

logger = logging.getLogger(__name__)

KLINES_PATH = "/api/v3/klines"
MAX_PAGE_SIZE = 1000
WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
_MAX_BACKOFF_S = 30.0


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
        timeout: `(connect, read)` timeouts in seconds. Defaults to `(5.0, 30.0)`.
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

    Example:
        >>> with BinanceClient() as client:  # doctest: +SKIP
        ...     pages = list(client.iter_kline_pages("BTCUSDT", "1h", 1704067200000, 1704153600000))
    """

    def __init__(self, base_url=None, *, timeout=(5.0, 30.0), retries=5, backoff=0.5,
                 max_retry_after=120.0, weight_limit=4800, page_size=MAX_PAGE_SIZE,
                 sleep=time.sleep):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidParameter(
                f"Received an invalid value for `page_size`, expected 1 to {MAX_PAGE_SIZE} "
                f"(Binance's most rows per request), got {page_size!r}."
            )
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.weight_limit = weight_limit
        self.page_size = page_size
        self.requests_made = 0
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
                rate limit beyond the bound).
            NetworkError: the host stayed unreachable or failing after every retry.
        """
        symbol = validate_symbol(symbol)
        step = get_interval(interval)
        page_start = start_ms
        while page_start < end_ms:
            rows, now_ms = self._request_klines(symbol, step, page_start, end_ms - 1)
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
            rows = [_parse_row(raw) for raw in response.json()]
        except (ValueError, TypeError, IndexError):
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
            try:
                response = self._session.get(url, params=params, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                failure = NetworkError(
                    f"Cannot reach {self.base_url} ({type(error).__name__}) after "
                    f"{attempt + 1} attempts. Check the network, or pick another root with "
                    f"`--base-url` (e.g. {ALTERNATIVE_BASE_URL})."
                )
                delay = self._backoff_delay(attempt)
            else:
                self._watch_weight(response)
                status = response.status_code
                if status == 200:
                    return response
                if status in (418, 429):
                    delay = _retry_after_s(response, self._backoff_delay(attempt))
                    failure = self._rate_limited(status, delay, attempt)
                elif status >= 500:
                    failure = NetworkError(
                        f"Binance at {self.base_url} kept failing (HTTP {status}) after "
                        f"{attempt + 1} attempts. Try again later."
                    )
                    delay = self._backoff_delay(attempt)
                else:
                    raise _refusal(response, params, self.base_url)
            if attempt < self.retries:
                logger.info("%s; retrying in %.2f s", failure, delay)
                self._sleep(delay)
        raise failure

    def _rate_limited(self, status, wait_s, attempt):
        why = "this IP is banned for a while" if status == 418 else "rate limit reached"
        if wait_s > self.max_retry_after:
            raise BinanceError(
                f"Binance {why} (HTTP {status}) and asks to wait {wait_s:.0f} s, longer than "
                f"the {self.max_retry_after:.0f} s this client waits. Wait that long and run "
                f"again; what was stored is kept.",
                status=status,
            )
        return BinanceError(
            f"Binance {why} (HTTP {status}) after {attempt + 1} attempts. Wait a minute and run "
            f"again; what was stored is kept.",
            status=status,
        )

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


def _parse_row(raw):
    return (
        int(raw[0]), float(raw[1]), float(raw[2]), float(raw[3]), float(raw[4]), float(raw[5]),
        int(raw[6]), float(raw[7]), int(raw[8]), float(raw[9]), float(raw[10]),
    )


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
    except (ValueError, TypeError, KeyError):
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
