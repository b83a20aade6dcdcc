"""The HTTP layer under every Binance REST call: one session, bounded time, retries, rate limits.

Connection errors, 5xx and 429/418 (after `Retry-After`) are retried with backoff; the client
pauses before the request weight per minute runs out. Each request has a total deadline, body
included, and the client a retry budget. A request that may have acted although its answer was
lost (a new order) is never retried: it raises `SendStatusUnknown`, for the caller to ask what
happened.
"""

import logging
import time
from dataclasses import dataclass

import requests
import urllib3

from .._version import __version__
from ..errors import BinanceError, NetworkError, SendStatusUnknown
from ..settings import (
    ALTERNATIVE_BASE_URL,
    REQUEST_DEADLINE_ENV,
    RETRY_BUDGET_ENV,
    resolve_base_url,
    resolve_seconds,
)

__all__ = ["BinanceHttp", "UNKNOWN_OUTCOME_CODES", "error_code"]

logger = logging.getLogger(__name__)

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
DEFAULT_REQUEST_DEADLINE_S = 30.0
DEFAULT_RETRY_BUDGET_S = 120.0
_MAX_BACKOFF_S = 30.0
# -1006 (unexpected answer from the message bus) and -1007 (timeout waiting for the backend):
# Binance says the request may or may not have been executed.
UNKNOWN_OUTCOME_CODES = (-1006, -1007)
_CHUNK_BYTES = 65_536


class BinanceHttp:
    """Session, retries, deadlines and rate limits for requests to one Binance REST root.

    Subclasses add endpoints and say, in `_refusal`, what a 4xx answer means for them.

    Args:
        base_url: REST root. Defaults to `None`: `LSTM_BT_BINANCE_URL`, else
            `https://api.binance.com`.
        timeout: `(connect, read)` seconds for one wait on the socket. Defaults to `(5.0, 30.0)`.
        deadline: seconds one request may take in all (connect, headers, whole body).
            Defaults to `None`: `LSTM_BT_REQUEST_DEADLINE`, else `30`.
        retry_budget: seconds all requests may spend failing and waiting before retries
            (`Retry-After` included). Defaults to `None`: `LSTM_BT_RETRY_BUDGET`, else `120`.
        retries: extra attempts after a connection error, a 5xx or a 429/418. Defaults to `5`.
        backoff: first wait between retries, doubling each time (at most 30 s). Defaults to `0.5`.
        max_retry_after: longest `Retry-After` worth waiting for; longer is an error.
            Defaults to `120.0`.
        weight_limit: request weight used per minute at which the client pauses until the next
            minute (Binance allows 6000). Defaults to `4800`.
        sleep: the function that waits. Defaults to `time.sleep`.

    Attributes:
        requests_made: HTTP requests attempted so far, retries included.
        failing_s: seconds spent so far on failed requests and waits.
    """

    def __init__(self, base_url=None, *, timeout=(5.0, 30.0), deadline=None, retry_budget=None,
                 retries=5, backoff=0.5, max_retry_after=120.0, weight_limit=4800,
                 sleep=time.sleep):
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

    def _get(self, path, params):
        return self._send("GET", path, params)

    def _send(self, method, path, params, *, resend=True, encode=None):
        """The 200 answer to a request, after retrying what may be retried.

        Args:
            method: `"GET"`, `"POST"` or `"DELETE"`.
            path: the endpoint, e.g. `"/api/v3/klines"`.
            params: the request's parameters.
            resend: retry after a lost answer (connection error, 5xx, Binance's -1006/-1007).
                `False` for a request that may have acted although its answer was lost (a new
                order): such a failure raises `SendStatusUnknown` instead. Defaults to `True`.
            encode: makes the query string from `params` at each attempt (a signed request
                signs a fresh timestamp). Defaults to `None`: requests' own encoding.
        """
        url = self.base_url + path
        failure = None
        for attempt in range(self.retries + 1):
            self._wait_for_weight()
            self.requests_made += 1
            began = time.monotonic()
            try:
                response = self._fetch(method, url, encode(params) if encode else params)
            except _CONNECTION_ERRORS as error:
                why = str(error) if isinstance(error, _DeadlinePassed) else type(error).__name__
                if not resend:
                    raise SendStatusUnknown(f"{method} {path} got no answer ({why})") from None
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
                code = error_code(response)
                if status >= 500 or code in UNKNOWN_OUTCOME_CODES:
                    if not resend:
                        raise SendStatusUnknown(
                            f"{method} {path} answered HTTP {status}"
                            f"{f' (code {code})' if code is not None else ''}",
                            code=code, status=status)
                    failure = _Failure(
                        NetworkError, f"Binance at {self.base_url} kept failing (HTTP {status})",
                        "Try again later.")
                    delay = self._backoff_delay(attempt)
                elif status in (418, 429):
                    delay = _retry_after_s(response, self._backoff_delay(attempt))
                    failure = self._rate_limited(status, delay)
                else:
                    raise self._refusal(response, params)
            self.failing_s += time.monotonic() - began
            if attempt == self.retries:
                break
            if self.failing_s + delay > self.retry_budget:
                raise failure.error(attempt + 1, self.failing_s, self.retry_budget)
            logger.info("%s; retrying in %.2f s", failure.what, delay)
            self._sleep(delay)
            self.failing_s += delay
        raise failure.error(self.retries + 1, self.failing_s)

    def _refusal(self, response, params):
        """The error for a 4xx answer (other than 418/429) to `params`."""
        code = error_code(response)
        return BinanceError(f"Binance refused the request (HTTP {response.status_code}"
                            f"{f', code {code}' if code is not None else ''}).",
                            code=code, status=response.status_code)

    def _fetch(self, method, url, params):
        """`method` on `url` with its whole body read within `deadline`: socket timeouts bound
        each wait, not a server that trickles bytes.
        """
        deadline = time.monotonic() + self.deadline
        connect, read = self.timeout
        response = self._session.request(method, url, params=params, stream=True,
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
    """A failed attempt, as the error raised once retrying stops."""

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


def error_code(response):
    """Binance's error code in a JSON answer, or `None`."""
    try:
        return int(response.json()["code"])
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def _retry_after_s(response, default):
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return default
