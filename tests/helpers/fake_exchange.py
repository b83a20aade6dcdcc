"""A fake signed Binance spot exchange on 127.0.0.1: REST, and a WebSocket API for user data.

It checks what Binance checks where the client depends on it: the `X-MBX-APIKEY` header, the
signature over the query string plus body (HMAC-SHA256 hex, any case; Ed25519 base64), and the
timestamp against its own clock and `recvWindow` (-1021). It keeps one account (balances, orders,
trades) on one symbol, applies LOT_SIZE and NOTIONAL (-1013) and balance checks (-2010), fills
market orders at `price` (in several executions when `market_splits` says so), rests limit
orders until `execute` fills them (partially if asked), charges commission in the received
asset (or `commission_asset`), and pushes `executionReport` and `outboundAccountPosition`
events to user data subscribers (see `fake_ws_api.py`).

Faults (`inject`): a POST order that answers 503/-1007 or holds its answer past the client's
deadline although the order was created (`"lost_answer"`, `"hold_answer"`), a -1021 refusal,
orders hidden from queries for a while; `clock_offset_ms` skews the server's clock.

Example:
    with FakeExchange() as exchange:
        exchange.add_hmac_key("key", "secret")
        client = SignedClient(ApiKey("key", hmac_secret="secret"), exchange.url)
        ...
        assert len(exchange.orders_with_client_id("lbt-...")) == 1
"""

import json
import threading
import time
from collections import deque
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from helpers.fake_ws_api import FakeWsApi, verify

SYMBOL, BASE, QUOTE = "BTCUSDT", "BTC", "USDT"
SIGNED_PATHS = {"/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades"}
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")


class FakeExchange:
    """One account trading BTCUSDT over signed REST and a WebSocket API.

    Args:
        price: the price market orders fill at (settable). Defaults to `"50000"`.
        balances: the account's starting balances. Defaults to 10,000 USDT and 0 BTC.

    Attributes:
        url: the REST root, e.g. `http://127.0.0.1:54321`.
        ws_api_url: the WebSocket API root.
        orders: every order, in creation order (Binance-shaped dicts).
        trades: every execution (Binance-shaped `myTrades` dicts).
        log: `(method, path, params, status, code)` of every request.
        market_splits: fractions a market order fills in, one execution each, every one at a
            price one tick above the last (for a buy). Defaults to `(1,)`.
        commission_rate, commission_asset: the fee and the asset it is charged in (`None`:
            the asset received).
        clock_offset_ms: the server clock's offset from the real one.
        market: a `FakeBinance` of BTCUSDT, or `None`: its public REST (klines) is served here
            too, as Binance serves both from one root, and market orders fill at its last
            closed bar's close instead of `price`.
    """

    def __init__(self, price="50000", balances=None):
        self.price = Decimal(price)
        self.balances = {QUOTE: Decimal("10000"), BASE: Decimal(0), "BNB": Decimal(0)}
        self.balances.update({k: Decimal(v) for k, v in (balances or {}).items()})
        self.step, self.min_qty, self.tick = Decimal("0.00001"), Decimal("0.00001"), Decimal("0.01")
        self.min_notional = Decimal("5")
        self.market_splits = (Decimal(1),)
        self.commission_rate, self.commission_asset = Decimal("0.001"), None
        self.clock_offset_ms = 0
        self.market = None
        self.orders, self.trades, self.log = [], [], []
        self.keys = {}
        self._faults = deque()
        self._hidden_queries = 0
        self.order_posted = threading.Event()
        self.release_answer = threading.Event()
        self._lock = threading.RLock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.exchange = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.ws_api = FakeWsApi(self)
        self.ws_api_url = self.ws_api.url

    def __enter__(self):
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        self.ws_api.start()
        return self

    def __exit__(self, *exc_info):
        self.release_answer.set()
        self.ws_api.stop()
        self._httpd.shutdown()
        self._httpd.server_close()

    def add_hmac_key(self, api_key, secret):
        self.keys[api_key] = ("hmac", secret.encode())

    def add_ed25519_key(self, api_key, public_key):
        self.keys[api_key] = ("ed25519", public_key)

    def inject(self, kind, *, times=1, status=503, code=-1007):
        """Script the next `times` matching requests.

        Kinds: `"lost_answer"` (a POST order creates the order, then answers `status`/`code`),
        `"hold_answer"` (creates it, sets `order_posted`, answers only once `release_answer`
        is set), `"bad_timestamp"` (the next signed request is refused with -1021),
        `"hide_orders"` (the next `times` order queries answer -2013 "Order does not exist").
        """
        if kind == "hide_orders":
            self._hidden_queries += times
            return
        self._faults.extend([(kind, status, code)] * times)

    def server_ms(self):
        return int(time.time() * 1000) + self.clock_offset_ms

    def market_price(self):
        """What a market order fills at: `price`, or the market's last closed close."""
        if self.market is None:
            return self.price
        index = (self.server_ms() - self.market.first_open_ms) // self.market.bar_ms - 1
        close = Decimal(repr(float(self.market.frame["close"].iloc[index])))
        self.price = close.quantize(self.tick)
        return self.price

    def orders_with_client_id(self, client_order_id):
        return [o for o in self.orders if o["clientOrderId"] == client_order_id]

    def open_orders(self):
        return [o for o in self.orders if o["status"] in OPEN_STATUSES]

    def execute(self, order_id, qty, price=None):
        """Fill `qty` more of a resting order at `price` (default `self.price`)."""
        with self._lock:
            order = next(o for o in self.orders if o["orderId"] == order_id)
            self._fill(order, Decimal(qty), Decimal(price) if price else self.price)

    # --- requests -------------------------------------------------------------------------

    def handle(self, method, path, raw_query, body, headers):
        """`(status, answer)` for one request; `None` answer holds nothing back."""
        params = dict(parse_qsl(raw_query + ("&" + body if body else ""), keep_blank_values=True))
        with self._lock:
            status, answer = self._route(method, path, raw_query + body, params, headers)
        code = answer.get("code") if isinstance(answer, dict) else None
        self.log.append((method, path, params, status, code))
        return status, answer

    def _route(self, method, path, payload, params, headers):
        if path == "/api/v3/time":
            return 200, {"serverTime": self.server_ms()}
        if path == "/api/v3/exchangeInfo":
            return 200, self.exchange_info()
        if path not in SIGNED_PATHS and self.market is not None and method == "GET":
            return _proxied(f"{self.market.rest_url}{path}?{payload}")
        if path not in SIGNED_PATHS:
            return 404, _error(-1000, f"no endpoint {path}")
        refused = self._authenticate(payload, params, headers.get("X-MBX-APIKEY"))
        if refused:
            return refused
        if method == "POST" and path == "/api/v3/order":
            return self._new_order(params)
        if path == "/api/v3/order":
            return self._query_or_cancel(method, params)
        if path == "/api/v3/openOrders":
            return 200, self.open_orders()
        if path == "/api/v3/myTrades":
            return 200, self._my_trades(params)
        return 200, self.account()

    def _authenticate(self, payload, params, api_key):
        if api_key not in self.keys:
            return 401, _error(-2015, "Invalid API-key, IP, or permissions for action.")
        unsigned = "&".join(p for p in payload.split("&") if not p.startswith("signature="))
        if not verify(self.keys[api_key], unsigned, params.get("signature", "")):
            return 400, _error(-1022, "Signature for this request is not valid.")
        if self._faults and self._faults[0][0] == "bad_timestamp":
            self._faults.popleft()
            return 400, _error(-1021, "Timestamp for this request is outside of the recvWindow.")
        now, timestamp = self.server_ms(), int(params.get("timestamp", 0))
        window = float(params.get("recvWindow", 5000))
        if window > 60000:
            return 400, _error(-1131, "recvWindow must be less than 60000")
        if timestamp >= now + 1000:
            return 400, _error(-1021, "Timestamp for this request was 1000ms ahead of the "
                                      "server's time.")
        if now - timestamp > window:
            return 400, _error(-1021, "Timestamp for this request is outside of the recvWindow.")
        return None

    def _new_order(self, params):
        qty, side, kind = Decimal(params.get("quantity", "0")), params["side"], params["type"]
        cid = params.get("newClientOrderId") or f"auto{len(self.orders)}"
        if any(o["clientOrderId"] == cid for o in self.open_orders()):
            return 400, _error(-2010, "Duplicate order sent.")
        price = Decimal(params["price"]) if kind == "LIMIT" else self.market_price()
        refusal = self._filter_failure(qty, price)
        if refusal:
            return 400, _error(-1013, refusal)
        if not self._affordable(side, qty, price):
            return 400, _error(-2010, "Account has insufficient balance for requested action.")
        order = self._create(cid, side, kind, qty, price if kind == "LIMIT" else Decimal(0))
        fills = []
        if kind == "MARKET":
            for i, fraction in enumerate(self.market_splits):
                part = qty * fraction if i < len(self.market_splits) - 1 else \
                    qty - Decimal(order["executedQty"])
                step = self.tick * i * (1 if side == "BUY" else -1)
                fills.append(self._fill(order, part, self.price + step))
        answer = {**order, "fills": [_full_fill(t) for t in fills]}
        if self._faults and self._faults[0][0] in ("lost_answer", "hold_answer"):
            fault, status, code = self._faults.popleft()
            if fault == "hold_answer":
                self.order_posted.set()
                self._lock.release()
                try:
                    self.release_answer.wait(120)
                finally:
                    self._lock.acquire()
                return 200, answer
            return status, _error(code, "Timeout waiting for response from backend server. "
                                        "Send status unknown; execution status unknown.")
        return 200, answer

    def _query_or_cancel(self, method, params):
        order = self._find(params)
        if order is None or (method == "GET" and self._hidden_queries > 0):
            self._hidden_queries = max(0, self._hidden_queries - 1)
            return 400, _error(-2013, "Order does not exist.")
        if method == "GET":
            return 200, dict(order)
        if order["status"] not in OPEN_STATUSES:
            return 400, _error(-2011, "Unknown order sent.")
        order["status"] = "CANCELED"
        self._report(order, "CANCELED")
        return 200, dict(order)

    def _find(self, params):
        if "orderId" in params:
            return next((o for o in self.orders if str(o["orderId"]) == params["orderId"]), None)
        # Binance finds the latest order with a client id (reusable once the first is done).
        cid = params.get("origClientOrderId")
        return next((o for o in reversed(self.orders) if o["clientOrderId"] == cid), None)

    def _my_trades(self, params):
        trades = [t for t in self.trades
                  if ("orderId" not in params or str(t["orderId"]) == params["orderId"])
                  and t["id"] >= int(params.get("fromId", 0))
                  and t["time"] >= int(params.get("startTime", 0))]
        return trades[:int(params.get("limit", 500))]

    # --- the book -----------------------------------------------------------------------

    def exchange_info(self):
        return {"symbols": [{
            "symbol": SYMBOL, "status": "TRADING", "baseAsset": BASE, "quoteAsset": QUOTE,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000",
                 "tickSize": str(self.tick)},
                {"filterType": "LOT_SIZE", "minQty": str(self.min_qty), "maxQty": "9000",
                 "stepSize": str(self.step)},
                {"filterType": "NOTIONAL", "minNotional": str(self.min_notional),
                 "applyMinToMarket": True, "maxNotional": "9000000", "applyMaxToMarket": False,
                 "avgPriceMins": 5}]}]}

    def account(self):
        return {"canTrade": True, "accountType": "SPOT", "balances": [
            {"asset": a, "free": f"{v:.8f}", "locked": "0.00000000"}
            for a, v in self.balances.items()]}

    def _filter_failure(self, qty, price):
        if qty < self.min_qty or (qty - self.min_qty) % self.step != 0:
            return "Filter failure: LOT_SIZE"
        if qty * price < self.min_notional:
            return "Filter failure: NOTIONAL"
        return None

    def _affordable(self, side, qty, price):
        if side == "BUY":
            return self.balances[QUOTE] >= qty * price * (1 + len(self.market_splits) * Decimal(
                "0.0001"))
        return self.balances[BASE] >= qty

    def _create(self, cid, side, kind, qty, price):
        now = self.server_ms()
        order = {"symbol": SYMBOL, "orderId": 1000 + len(self.orders), "orderListId": -1,
                 "clientOrderId": cid, "transactTime": now, "price": f"{price:.8f}",
                 "origQty": f"{qty:.8f}", "executedQty": "0.00000000",
                 "cummulativeQuoteQty": "0.00000000", "status": "NEW",
                 "timeInForce": "GTC", "type": kind, "side": side, "time": now,
                 "updateTime": now, "isWorking": True, "workingTime": now,
                 "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "NONE"}
        self.orders.append(order)
        self._report(order, "NEW")
        return order

    def _fill(self, order, qty, price):
        buy = order["side"] == "BUY"
        got, paid = (BASE, QUOTE) if buy else (QUOTE, BASE)
        asset = self.commission_asset or got
        received = qty if buy else qty * price
        commission = (received * self.commission_rate).quantize(Decimal("0.00000001"))
        self.balances[BASE] += qty if buy else -qty
        self.balances[QUOTE] += -qty * price if buy else qty * price
        self.balances[asset] = self.balances.get(asset, Decimal(0)) - commission
        executed = Decimal(order["executedQty"]) + qty
        order["executedQty"] = f"{executed:.8f}"
        order["cummulativeQuoteQty"] = f"{Decimal(order['cummulativeQuoteQty']) + qty * price:.8f}"
        order["status"] = "FILLED" if executed >= Decimal(order["origQty"]) else \
            "PARTIALLY_FILLED"
        order["updateTime"] = self.server_ms()
        trade = {"symbol": SYMBOL, "id": 5000 + len(self.trades), "orderId": order["orderId"],
                 "orderListId": -1, "price": f"{price:.8f}", "qty": f"{qty:.8f}",
                 "quoteQty": f"{qty * price:.8f}", "commission": f"{commission:.8f}",
                 "commissionAsset": asset, "time": self.server_ms(), "isBuyer": buy,
                 "isMaker": False, "isBestMatch": True}
        self.trades.append(trade)
        self._report(order, "TRADE", trade)
        self.ws_api.push({"e": "outboundAccountPosition", "E": self.server_ms(),
                          "u": self.server_ms(), "B": [
                              {"a": a, "f": f"{self.balances[a]:.8f}", "l": "0.00000000"}
                              for a in (got, paid, asset)]})
        return trade

    def _report(self, order, execution, trade=None):
        self.ws_api.push({
            "e": "executionReport", "E": self.server_ms(), "s": SYMBOL,
            "c": order["clientOrderId"], "S": order["side"], "o": order["type"],
            "q": order["origQty"], "p": order["price"], "x": execution, "X": order["status"],
            "r": "NONE", "i": order["orderId"], "l": trade["qty"] if trade else "0.00000000",
            "z": order["executedQty"], "L": trade["price"] if trade else "0.00000000",
            "n": trade["commission"] if trade else "0", "N": trade["commissionAsset"] if trade
            else None, "T": self.server_ms(), "t": trade["id"] if trade else -1,
            "Z": order["cummulativeQuoteQty"], "O": order["time"]})


def _full_fill(trade):
    return {"price": trade["price"], "qty": trade["qty"], "commission": trade["commission"],
            "commissionAsset": trade["commissionAsset"], "tradeId": trade["id"]}


def _proxied(url):
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _error(code, msg):
    return {"code": code, "msg": msg}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _serve(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        status, answer = self.server.exchange.handle(self.command, parts.path, parts.query,
                                                     body, self.headers)
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up waiting (a held answer)

    do_GET = do_POST = do_DELETE = _serve



API_KEY, SECRET = "test-api-key", "test-secret-0123456789"


def hmac_client(exchange, **options):
    """A `SignedClient` with an HMAC key the exchange knows, quick to give up in tests."""
    from lstm_bt.binance.account import SignedClient
    from lstm_bt.binance.signing import ApiKey

    exchange.add_hmac_key(API_KEY, SECRET)
    options = {"retries": 2, "backoff": 0.01, "deadline": 5, **options}
    return SignedClient(ApiKey(API_KEY, hmac_secret=SECRET), exchange.url, **options)
