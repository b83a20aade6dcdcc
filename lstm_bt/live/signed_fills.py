"""The signed fill source of `BinanceBroker`: orders sent through `LiveOrders`, executions
applied from the exchange's fills.

Each market order becomes one `LiveOrders.submit` decision, keyed by the bar it was decided
on and its side (a second order of a bar is told apart by its count). Cash and position move
only by fills: those the order's own answer, the user data stream or polling brought (queued
by `on_fill`, perhaps from another thread), and on a resumed session those already journaled
for a replayed decision. A decision replayed from the journal that was never sent is not sent
late: the bar it was due on has passed.
"""

import logging
import queue

import backtrader as bt

from ..data.bar_times import utc_datetime
from ..data.dates import to_ms
from ..orders.client_ids import client_order_id

__all__ = ["SignedFills"]

logger = logging.getLogger(__name__)

_REFUSED = {"REFUSED", "NOT_PLACED", "REJECTED"}
_QTY_EPSILON = 1e-12


class SignedFills:
    """Sends a broker's market orders through `LiveOrders` and applies their fills.

    Args:
        broker: the `BinanceBroker`.
        orders: a started `LiveOrders`.
        fills: the queue its `on_fill` puts each new `Fill` in.
        flatten: sell what the session holds when the kill switch trips.
        on_kill: called once the kill switch has been dealt with. Defaults to `None`.
    """

    def __init__(self, broker, orders, fills, *, flatten=False, on_kill=None):
        self.broker = broker
        self.orders = orders
        self.fills = fills if fills is not None else queue.SimpleQueue()
        self.flatten = flatten
        self.on_kill = on_kill
        self.killed = False
        self._by_client_id = {}
        self._applied = set()

    def send(self, order, key):
        """Send one order (its `key` is `"<bar ms>.<count>"`); returns it, notified."""
        broker = self.broker
        order.submit(broker)
        broker.notify(order)
        if order.exectype not in (None, bt.Order.Market, bt.Order.Close):
            return self._end(order, "reject", "only market orders are sent to Binance")
        bar_ms, count = (int(part) for part in key.split("."))
        side = "BUY" if order.isbuy() else "SELL"
        purpose = "" if count == 1 else str(count)
        cid = client_order_id(self.orders.session_id, bar_ms, side, purpose)
        if getattr(order.data, "replaying", False) and not self._journaled(cid):
            return self._end(order, "reject", "decided on a replayed bar and never sent; "
                                              "not sent late")
        self.work()  # a kill switch tripped since the last loop stops this order too
        if self.killed:
            return self._end(order, "reject", "the kill switch has tripped")
        order.accept(broker)
        broker.notify(order)
        self._by_client_id[cid] = order
        state = self.orders.submit(bar_ms, side, abs(order.size), order.data.close[0],
                                   equity=broker.getvalue(), purpose=purpose)
        for fill in self.orders.journal.fills():  # a replayed decision's, journaled before
            if fill.client_order_id == cid:
                self._apply(fill)
        self._drain()
        if order.alive() and state.final:
            if state.status in _REFUSED and not order.executed.size:
                return self._end(order, "reject", state.reason or state.status)
            if state.status != "FILLED":
                return self._end(order, "cancel", state.reason or state.status)
        return order

    def work(self):
        """Apply fills that arrived, poll while the stream is down, and act on the kill
        switch (once)."""
        tripped = self.orders.step()
        self._drain()
        if tripped and not self.killed:
            self.killed = True
            data = self.broker.cerebro.datas[0]
            bar_ms = to_ms(utc_datetime(data.datetime[0])) if len(data) else 0
            price = data.close[0] if len(data) else 0.0
            self.orders.kill(bar_ms, price, flatten=self.flatten)
            self._drain()
            if self.on_kill is not None:
                self.on_kill()

    def _journaled(self, cid):
        return any(i.client_order_id == cid for i in self.orders.journal.intents())

    def _drain(self):
        while True:
            try:
                fill = self.fills.get_nowait()
            except queue.Empty:
                return
            self._apply(fill)

    def _apply(self, fill):
        """Move cash and position by one execution, once (by trade id)."""
        if fill.trade_id in self._applied:
            return
        self._applied.add(fill.trade_id)
        broker = self.broker
        order = self._by_client_id.get(fill.client_order_id)
        data = order.data if order is not None else broker.cerebro.datas[0]
        size = float(fill.qty) * (1 if fill.side == "BUY" else -1)
        price = float(fill.price)
        position = broker.positions[data]
        comminfo = broker.getcommissioninfo(data)
        price_before = position.price
        psize, pprice, opened, closed = position.update(size, price)
        pnl = comminfo.profitandloss(-closed, price_before, price)
        broker.cash -= size * price
        comm = self._charge(fill, position, price)
        logger.info("applied fill %s %s: %+g at %g, fee %s %s", fill.client_order_id,
                    fill.trade_id, size, price, fill.commission, fill.commission_asset)
        if order is None:
            return  # the kill switch's sale: no strategy order to tell
        order.addcomminfo(comminfo)
        order.execute(data.datetime[0], size, price, closed, abs(closed) * price_before,
                      comm if closed and not opened else 0.0, opened, abs(opened) * price,
                      comm if opened else 0.0, 0.0, pnl, position.size, position.price)
        if abs(order.executed.remsize) > _QTY_EPSILON:
            order.partial()
        else:
            order.completed()
        broker.notify(order)

    def _charge(self, fill, position, price):
        """Take the commission from the asset Binance charged; returns its quote value (0 for
        a third asset such as BNB, which the session does not hold)."""
        rules = self.orders.sender.rules
        commission = float(fill.commission)
        if fill.commission_asset == rules.quote_asset:
            self.broker.cash -= commission
            return commission
        if fill.commission_asset == rules.base_asset:
            position.size -= commission
            return commission * price
        return 0.0

    def _end(self, order, how, reason):
        logger.info("order %s not filled: %s", order.ref, reason)
        order.addinfo(refused=reason)
        getattr(order, how)()
        self.broker.notify(order)
        return order
