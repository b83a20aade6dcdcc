"""A small client for Binance's public `GET /api/v3/klines`, on `BinanceHttp`'s session.

It walks a range in pages of up to 1000 rows; retries, deadlines and rate limits are
`lstm_bt.binance.transport`'s. A page with rows outside the range asked, out of order, too
many, in the future, or not bars is asked for once more, then refused; the candle still in
progress is never returned.
"""

import email.utils
import logging
import time
from dataclasses import dataclass

import numpy as np

from ..errors import BinanceError, InvalidParameter
from ..data.intervals import INTERVALS, get_interval
from ..data.kline_frame import format_open_time, kline_problem
from ._frames import ROW_FIELDS, parse_row
from ..settings import ALTERNATIVE_BASE_URL, validate_symbol
from .transport import BinanceHttp

__all__ = ["BinanceClient", "KlinePage", "KLINES_PATH", "MAX_PAGE_SIZE"]

logger = logging.getLogger(__name__)

KLINES_PATH = "/api/v3/klines"
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class KlinePage:
    """One answer from `/api/v3/klines`, reduced to closed candles.

    Attributes:
        rows: closed candles in open-time order, tuples in `ROW_FIELDS` order, times in ms.
        start_ms: first open time this page answers for.
        end_ms: open times in `[start_ms, end_ms)` are settled: in `rows`, or absent from
            Binance (an outage), so never asked for again.
    """

    rows: list
    start_ms: int
    end_ms: int


class BinanceClient(BinanceHttp):
    """Paging and answer checks for Binance kline requests, on `BinanceHttp`'s session.

    Args:
        base_url: REST root. Defaults to `None`: `LSTM_BT_BINANCE_URL`, else
            `https://api.binance.com`.
        page_size: rows asked for per request, at most 1000. Defaults to `1000`.
        **http: `BinanceHttp`'s time bounds, retries and rate limits (`timeout`, `deadline`,
            `retry_budget`, `retries`, `backoff`, `max_retry_after`, `weight_limit`, `sleep`).
    """

    def __init__(self, base_url=None, *, page_size=MAX_PAGE_SIZE, **http):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidParameter(
                f"Received an invalid value for `page_size`, expected 1 to {MAX_PAGE_SIZE} "
                f"(Binance's most rows per request), got {page_size!r}."
            )
        super().__init__(base_url, **http)
        self.page_size = page_size

    def iter_kline_pages(self, symbol, interval, start_ms, end_ms):
        """Yield `KlinePage`s of the closed klines opening in `[start_ms, end_ms)`, in time order.

        Raises:
            BinanceError: Binance refused (unknown symbol, restricted location, a rate limit past
                the bound), or answered twice with a page that cannot be right.
            NetworkError: the host stayed unreachable or failing, or the retry budget is spent.
        """
        symbol = validate_symbol(symbol)
        step = get_interval(interval)
        page_start = start_ms
        while page_start < end_ms:
            rows, now_ms = self._checked_page(symbol, step, page_start, end_ms)
            # Closed when the answer was made: `now_ms` is no later than that.
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
        """The rows of `[start_ms, end_ms)`'s first page, and a time (ms) no later than when
        the answer was made; a wrong answer is asked again once."""
        for attempt in (1, 2):
            asked_ms = int(time.time() * 1000)
            rows, answered_ms = self._request_klines(symbol, step, start_ms, end_ms - 1)
            problem = _page_problem(rows, start_ms, end_ms, answered_ms, self.page_size)
            if problem is None:
                # The answer was made after it was asked for (its `Date` caps a clock ahead):
                # judged by when it came, a candle that closed on the way would pass for
                # closed with the values it had in progress.
                return rows, min(asked_ms, answered_ms)
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

    def _refusal(self, response, params):
        return _refusal(response, params, self.base_url)


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
    """`2024-01-05 03:00`, or the raw ms when it is no date."""
    return format_open_time(ms) or f"{ms:g} ms"


def _answer_time_ms(response):
    """The earlier of our clock and the server's `Date`, so a skewed clock never closes a bar."""
    now_ms = int(time.time() * 1000)
    try:
        served = email.utils.parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return now_ms
    return min(now_ms, int(served.timestamp() * 1000))


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
