"""Binance's SIGNED spot endpoints (account, orders, trades) on `BinanceHttp`'s session.

Each signed request carries `timestamp` (our clock plus the server offset, measured once and
kept) and a small `recvWindow`. A -1021, refused before matching, re-measures the clock and
sends the request once more, signed anew; a new order is never re-sent for anything else.
"""

import logging
import time
from urllib.parse import quote

from ..errors import BinanceError, check_int
from .filters import SymbolRules, as_decimal
from .signing import query_string
from .transport import BinanceHttp

__all__ = ["SignedClient", "TESTNET_BASE_URL", "TESTNET_STREAM_URL", "TESTNET_WS_API_URL",
           "LIVE_WS_API_URL", "ORDER_PATH", "NO_SUCH_ORDER", "INVALID_TIMESTAMP"]

logger = logging.getLogger(__name__)

TESTNET_BASE_URL = "https://testnet.binance.vision"
TESTNET_STREAM_URL = "wss://stream.testnet.binance.vision"
TESTNET_WS_API_URL = "wss://ws-api.testnet.binance.vision/ws-api/v3"
LIVE_WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
ORDER_PATH = "/api/v3/order"
NO_SUCH_ORDER = -2013
INVALID_TIMESTAMP = -1021
_FIXES = {
    -1021: "our clock and Binance's disagree by more than the recvWindow; sync the system "
           "clock (NTP)",
    -1022: "the signature does not match the API key: check that LSTM_BT_API_SECRET or the "
           "key file belongs to LSTM_BT_API_KEY",
    -2014: "the API key is malformed: check LSTM_BT_API_KEY",
    -2015: "the API key is unknown here, this IP is not allowed for it, or it lacks the "
           "permission (enable Spot trading for the key; testnet keys only work on --testnet)",
}


class SignedClient(BinanceHttp):
    """Signed REST calls for one API key: account, orders, trades and the symbol's rules.

    Args:
        api_key: an `ApiKey`.
        base_url: REST root (`TESTNET_BASE_URL` for the testnet). Defaults to `None`:
            `LSTM_BT_BINANCE_URL`, else `https://api.binance.com`.
        recv_window_ms: how long after its timestamp Binance may accept a request (1 to
            60000). Defaults to `5000`, Binance's advice.
        clock: our time in seconds. Defaults to `time.time`.
        **http: `BinanceHttp`'s time bounds, retries and rate limits.

    Attributes:
        offset_ms: Binance's clock minus ours, in ms, as last measured.
    """

    def __init__(self, api_key, base_url=None, *, recv_window_ms=5000, clock=time.time,
                 **http):
        super().__init__(base_url, **http)
        self.recv_window_ms = check_int("recv_window_ms", recv_window_ms, low=1, high=60_000)
        self.api_key = api_key
        self.offset_ms = None
        self._clock = clock
        self._session.headers["X-MBX-APIKEY"] = api_key.api_key

    def sync_time(self):
        """Measure Binance's clock against ours (`GET /api/v3/time`); returns the offset."""
        before = self._clock()
        served = int(self._get("/api/v3/time", {}).json()["serverTime"])
        after = self._clock()
        self.offset_ms = served - round((before + after) * 500)
        logger.info("Binance's clock is %+d ms from ours", self.offset_ms)
        return self.offset_ms

    def server_ms(self):
        """Binance's time now, in ms, by our clock and the measured offset."""
        if self.offset_ms is None:
            self.sync_time()
        return round(self._clock() * 1000) + self.offset_ms

    def signed(self, method, path, params, *, resend=True, before_send=None):
        """The JSON answer to a SIGNED request (`timestamp`, `recvWindow`, `signature` added).

        Args:
            method, path, params: the request.
            resend: see `BinanceHttp._send`. Defaults to `True`.
            before_send: called with each attempt's timestamp just before it is signed (a
                journal records it). Defaults to `None`.
        """
        for attempt in (1, 2):
            try:
                return self._send(method, path, dict(params), resend=resend,
                                  encode=lambda p: self._signed_query(p, before_send)).json()
            except BinanceError as error:
                if error.code != INVALID_TIMESTAMP or attempt == 2:
                    raise
                logger.info("Binance refused the timestamp (-1021); measuring its clock again")
                self.sync_time()

    def _signed_query(self, params, before_send):
        timestamp = self.server_ms()
        if before_send is not None:
            before_send(timestamp)
        query = query_string({**params, "recvWindow": self.recv_window_ms,
                              "timestamp": timestamp})
        return f"{query}&signature={quote(self.api_key.sign(query), safe='')}"

    def account(self):
        """`GET /api/v3/account`: balances (`free`, `locked` per asset) and permissions."""
        return self.signed("GET", "/api/v3/account", {"omitZeroBalances": "true"})

    def balances(self):
        """Each asset's `free + locked` balance as a Decimal, from `account`."""
        return {b["asset"]: as_decimal(b["free"]) + as_decimal(b["locked"])
                for b in self.account().get("balances", ())}

    def new_order(self, params, *, before_send=None):
        """`POST /api/v3/order` (FULL answer, with fills), sent once: a lost answer raises
        `SendStatusUnknown`; `before_send` as for `signed`."""
        return self.signed("POST", ORDER_PATH, {**params, "newOrderRespType": "FULL"},
                           resend=False, before_send=before_send)

    def get_order(self, symbol, client_order_id):
        """`GET /api/v3/order` by client order id; `None` when Binance has no such order."""
        try:
            return self.signed("GET", ORDER_PATH, {"symbol": symbol,
                                                   "origClientOrderId": client_order_id})
        except BinanceError as error:
            if error.code == NO_SUCH_ORDER:
                return None
            raise

    def cancel_order(self, symbol, client_order_id):
        """`DELETE /api/v3/order`; `None` when the order is no longer open (or unknown)."""
        try:
            return self.signed("DELETE", ORDER_PATH, {"symbol": symbol,
                                                      "origClientOrderId": client_order_id})
        except BinanceError as error:
            if error.code in (NO_SUCH_ORDER, -2011):
                return None
            raise

    def open_orders(self, symbol):
        """`GET /api/v3/openOrders` for one symbol."""
        return self.signed("GET", "/api/v3/openOrders", {"symbol": symbol})

    def my_trades(self, symbol, *, order_id=None, from_id=None, start_ms=None, limit=1000):
        """`GET /api/v3/myTrades`: executions on `symbol`, oldest first, of one order, from a
        trade id or from a time."""
        params = {"symbol": symbol, "limit": check_int("limit", limit, low=1, high=1000)}
        for name, value in (("orderId", order_id), ("fromId", from_id), ("startTime", start_ms)):
            if value is not None:
                params[name] = value
        return self.signed("GET", "/api/v3/myTrades", params)

    def symbol_rules(self, symbol):
        """The `SymbolRules` of `symbol`, from `GET /api/v3/exchangeInfo` (unsigned)."""
        return SymbolRules.from_exchange_info(
            self._get("/api/v3/exchangeInfo", {"symbol": symbol}).json(), symbol)

    def _refusal(self, response, params):
        try:
            body = response.json()
            code, reason = int(body["code"]), str(body["msg"])
        except (ValueError, TypeError, KeyError, RecursionError):
            return BinanceError(
                f"{self.base_url} answered HTTP {response.status_code} without a Binance error; "
                f"check `--base-url`.", status=response.status_code)
        fix = _FIXES.get(code)
        what = f"{params['symbol']} " if isinstance(params.get("symbol"), str) else ""
        return BinanceError(
            f"Binance refused the {what}request (code {code}: {reason})"
            f"{f'; {fix}' if fix else ''}.", code=code, status=response.status_code,
            reason=reason)

