"""Each decision's order sent at most once; what became of a lost one asked, never guessed.

The intent is journaled before the `POST` (and its signed timestamp just before it leaves). A
refusal (-1013, -2010, any 4xx) is journaled `REFUSED` with Binance's reason. A lost answer
(timeout, 5xx, -1007) is asked for by client id until Binance describes the order, or has none
once the request's `recvWindow` and matching time have passed (`NOT_PLACED`). It is never sent
again: `newClientOrderId` only guards while the first order is open, so a re-sent market order
that had filled would trade twice.
"""

import logging
import time
from dataclasses import replace

from ..binance.filters import decimal_text
from ..errors import BinanceError, NetworkError, SendStatusUnknown
from .client_ids import client_order_id
from .journal import NOT_PLACED, REFUSED, Intent, OrderState

__all__ = ["OrderSender"]

logger = logging.getLogger(__name__)


class OrderSender:
    """Sends market orders for one session and symbol, each at most once.

    Args:
        client: a `SignedClient`.
        journal: the order journal.
        tracker: the `OrderTracker` that journals answers and fills.
        rules: the symbol's `SymbolRules`.
        session_id: names the session in its client order ids.
        guard: a `LimitGuard`. Defaults to `None`.
        settle_s: how long past its `recvWindow` Binance may still match an order (its backend
            timeout is 10 s); until then "no such order" is asked again. Defaults to `10.0`.
        backoff: first wait between order queries, doubling up to 8 s. Defaults to `0.5`.
        resolve_budget_s: seconds of asking before a `NetworkError` (the intent is asked about
            again at the next start). Defaults to `120.0`.
        sleep: the function that waits. Defaults to `time.sleep`.
    """

    def __init__(self, client, journal, tracker, rules, session_id, *, guard=None,
                 settle_s=10.0, backoff=0.5, resolve_budget_s=120.0, sleep=time.sleep):
        self.client = client
        self.journal = journal
        self.tracker = tracker
        self.rules = rules
        self.session_id = session_id
        self.guard = guard
        self.settle_s = settle_s
        self.backoff = backoff
        self.resolve_budget_s = resolve_budget_s
        self._sleep = sleep

    def submit(self, bar_ms, side, quantity, price, *, equity=None, purpose=""):
        """Send one decision's market order unless it was sent before; returns its `OrderState`.

        Args:
            bar_ms: open time of the bar the decision was taken on.
            side: `"BUY"` or `"SELL"`.
            quantity: base asset quantity, rounded down to the lot step.
            price: the price it should fill near, for the notional checks.
            equity: the account's value in the quote asset, for the daily loss. Defaults to
                `None`.
            purpose: see `client_order_id`. Defaults to `""`.
        """
        cid = client_order_id(self.session_id, bar_ms, side, purpose)
        known = self.journal.orders().get(cid)
        if known is not None:
            return known
        pending = next((i for i in self.journal.intents() if i.client_order_id == cid), None)
        if pending is not None:
            return self.resolve(pending)
        qty = self.rules.market_quantity(quantity)
        intent = Intent(cid, self.rules.symbol, side, "MARKET", decimal_text(qty), int(bar_ms))
        refusal = self.rules.market_refusal(qty, price)
        if refusal is None and self.guard is not None and purpose != "k":
            refusal = self.guard.refusal(side, qty, price, equity, self.client.server_ms())
        self.journal.record_intent(intent)
        if refusal is not None:
            return self._refused(cid, f"not sent: {refusal}")
        params = {"symbol": intent.symbol, "side": side, "type": "MARKET",
                  "quantity": intent.quantity, "newClientOrderId": cid}
        try:
            answer = self.client.new_order(params, before_send=lambda ts: (
                self.journal.record_intent(replace(intent, sent_ms=ts))))
        except SendStatusUnknown as error:
            logger.warning("order %s: %s; asking Binance what became of it", cid, error)
            return self.resolve(intent)
        except BinanceError as error:
            self._refused(cid, f"{error.code}: {error.reason}" if error.reason else str(error))
            if error.code in (-1013, -2010):
                return self.journal.orders()[cid]
            raise
        return self.tracker.apply_order(answer)

    def resolve_unresolved(self):
        """Resolve every journaled intent without an outcome; returns their `OrderState`s."""
        return [self.resolve(intent) for intent in self.journal.intents_unresolved()]

    def resolve(self, intent):
        """What became of an intent whose answer was lost, asked until Binance says
        (`NetworkError` past `resolve_budget_s`)."""
        cid, delay, spent = intent.client_order_id, self.backoff, 0.0
        while True:
            known = self.journal.orders().get(cid)  # the user data stream may have said
            if known is not None:
                return known
            sent_ms = next(i.sent_ms for i in self.journal.intents()
                           if i.client_order_id == cid)
            try:
                answer = self.client.get_order(intent.symbol, cid)
                if answer is not None:
                    return self.tracker.apply_order(answer)
                if sent_ms is None or self.client.server_ms() > (
                        sent_ms + self.client.recv_window_ms + self.settle_s * 1000):
                    logger.info("order %s was never placed", cid)
                    state = OrderState(cid, NOT_PLACED, reason="Binance has no such order and "
                                       "can no longer accept it")
                    self.journal.record_order(state)
                    return state
                why = "Binance has no such order yet"
            except (NetworkError, BinanceError) as error:
                why = str(error)
            if spent + delay > self.resolve_budget_s:
                raise NetworkError(
                    f"Could not learn what became of order {cid} in {spent:.0f} s ({why}). "
                    f"It is not sent again; run the same command later: the next start asks "
                    f"Binance first.")
            self._sleep(delay)
            spent += delay
            delay = min(delay * 2, 8.0)

    def _refused(self, cid, reason):
        logger.warning("order %s refused: %s", cid, reason)
        state = OrderState(cid, REFUSED, reason=reason)
        self.journal.record_order(state)
        return state
