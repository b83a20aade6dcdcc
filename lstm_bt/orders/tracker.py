"""Binance's accounts of our orders, turned into journal records, from wherever they come.

Three sources say the same things: an order's own answer (`POST` with its fills, `GET`), the user
data stream's `executionReport`s, and polling (`GET /api/v3/order`, `/api/v3/myTrades`) when the
stream is down. Each execution is journaled once, by its trade id, with its own quantity, price
and commission (in the asset Binance charged), whichever source brought it first.
"""

import logging
from decimal import Decimal

from ..binance.filters import as_decimal, decimal_text
from .journal import Fill, OrderState

__all__ = ["OrderTracker", "net_change"]

logger = logging.getLogger(__name__)


class OrderTracker:
    """Keeps the journal's orders and fills current.

    Args:
        client: a `lstm_bt.binance.account.SignedClient`.
        journal: the order journal (see `lstm_bt.orders.journal`).
        symbol: the symbol traded, e.g. `"BTCUSDT"`.
        on_fill: called with each new `Fill` once it is journaled (a broker applies it).
            Defaults to `None`.
    """

    def __init__(self, client, journal, symbol, on_fill=None):
        self.client = client
        self.journal = journal
        self.symbol = symbol
        self.on_fill = on_fill

    def apply_order(self, answer):
        """Journal an order answer (`POST` FULL, `GET` or `DELETE`) and its executions.

        Returns:
            The `OrderState` journaled.
        """
        state = OrderState(answer["clientOrderId"] if "origClientOrderId" not in answer
                           else answer["origClientOrderId"], answer["status"],
                           decimal_text(answer["executedQty"]), int(answer["orderId"]))
        time_ms = int(answer.get("transactTime") or answer.get("updateTime") or 0)
        for fill in answer.get("fills", ()):
            self._record(Fill(int(fill["tradeId"]), state.client_order_id, self.symbol,
                              answer["side"], fill["qty"], fill["price"], fill["commission"],
                              fill["commissionAsset"], time_ms))
        if as_decimal(state.executed_qty) > self.filled_qty(state.client_order_id):
            self._fetch_trades(state)
        self.journal.record_order(state)
        return state

    def on_event(self, event):
        """Journal one user data stream event (others than `executionReport` are ignored)."""
        if event.get("e") != "executionReport" or event.get("s") != self.symbol:
            return
        # A cancel's report carries the cancel's own id in `c`, the order's in `C`.
        cid = event.get("C") or event["c"]
        if event.get("x") == "TRADE":
            self._record(Fill(int(event["t"]), cid, self.symbol, event["S"], event["l"],
                              event["L"], event["n"], event["N"], int(event["T"])))
        self.journal.record_order(OrderState(cid, event["X"], decimal_text(event["z"]),
                                             int(event["i"]), reason=_reason(event)))

    def poll(self):
        """Ask Binance about every order the journal holds open, and fetch the executions of
        any order whose fills fall short of its executed quantity; returns how many changed."""
        changed = 0
        for state in self.journal.orders().values():
            if state.final:
                if as_decimal(state.executed_qty) > self.filled_qty(state.client_order_id):
                    self._fetch_trades(state)
                    changed += 1
                continue
            answer = self.client.get_order(self.symbol, state.client_order_id)
            if answer is not None and self.apply_order(answer) != state:
                changed += 1
        return changed

    def record_trade(self, trade, client_order_id):
        """Journal one `myTrades` execution of a known order."""
        self._record(Fill(int(trade["id"]), client_order_id, self.symbol,
                          "BUY" if trade["isBuyer"] else "SELL", trade["qty"], trade["price"],
                          trade["commission"], trade["commissionAsset"], int(trade["time"])))

    def filled_qty(self, client_order_id):
        """The quantity the journal's fills of one order add up to."""
        return sum((as_decimal(f.qty) for f in self.journal.fills()
                    if f.client_order_id == client_order_id), Decimal(0))

    def _fetch_trades(self, state):
        for trade in self.client.my_trades(self.symbol, order_id=state.order_id):
            self.record_trade(trade, state.client_order_id)

    def _record(self, fill):
        if self.journal.record_fill(fill):
            logger.info("fill %s: %s %s %s at %s, fee %s %s", fill.client_order_id, fill.side,
                        fill.qty, self.symbol, fill.price, fill.commission,
                        fill.commission_asset)
            if self.on_fill is not None:
                self.on_fill(fill)


def net_change(fills, asset, rules):
    """How much `asset` the fills added (negative: removed), commissions included.

    Args:
        fills: `Fill`s of one symbol.
        asset: e.g. `"BTC"` (the base) or `"USDT"` (the quote).
        rules: the symbol's `SymbolRules` (which asset is base, which quote).
    """
    total = Decimal(0)
    for fill in fills:
        qty, price = as_decimal(fill.qty), as_decimal(fill.price)
        sign = 1 if fill.side == "BUY" else -1
        if asset == rules.base_asset:
            total += sign * qty
        elif asset == rules.quote_asset:
            total -= sign * qty * price
        if fill.commission_asset == asset:
            total -= as_decimal(fill.commission)
    return total


def _reason(event):
    reason = event.get("r", "NONE")
    return "" if reason in ("NONE", None) else reason
