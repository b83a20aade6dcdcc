"""`BinanceBroker`: backtrader's backtest broker on live bars, with the exchange's order rules,
filling either by simulation (paper) or through signed orders on Binance.

Paper fills are the backtest's: the broker is set up by `run.runner.set_up_broker` (cash,
commission, slippage), and a market order fills at the next bar's open. With `orders` (a
`lstm_bt.orders.LiveOrders`) each market order is sent to Binance as soon as the strategy makes
it (the next bar's open, in time), and only the exchange's executions move cash and position:
each fill's own quantity and price, the commission in the asset Binance charged. What both
modes share:

- Orders meet Binance's filters (`binance.symbol_filters.SymbolFilters`): the quantity is
  rounded down to the lot step (and a limit or stop price to the tick) before the order is
  made, and an order the exchange would refuse (below the minimum quantity or notional) is
  rejected with Binance's reason.
- Orders are worked only when a new bar has arrived. A live cerebro loops without bars while
  it waits for one; backtrader's broker would try pending limit and stop orders against the
  bar they were made at on each of those loops, which a backtest never does.

With a journal, the forecast behind an order, the order's intent (what the strategy asked
for), the order as sent and every fill are journaled, each before it is acted on.
"""

import logging

import backtrader as bt

from ..data.bar_times import utc_datetime
from ..data.dates import to_ms
from .session_recorder import journal_forecast
from .signed_fills import SignedFills

__all__ = ["BinanceBroker"]

logger = logging.getLogger(__name__)

_ENDED = {bt.Order.Completed: "completed", bt.Order.Partial: "partial",
          bt.Order.Margin: "margin", bt.Order.Rejected: "rejected",
          bt.Order.Canceled: "canceled", bt.Order.Expired: "expired"}


class BinanceBroker(bt.brokers.BackBroker):
    """A broker for live bars: the exchange's filters, work on new bars only, a journal, and
    simulated or signed fills.

    Params:
        filters: a function of a data feed returning its `SymbolFilters`, or None to apply
            no exchange rules (e.g. `BinanceStore.symbol_filters_for`). Defaults to `None`.
        journal: a `live.journal.Journal` to record intents, orders and fills in, or None.
            Defaults to `None`.
        orders: a started `lstm_bt.orders.LiveOrders` whose `on_fill` is `fills.put`: send
            market orders to Binance instead of simulating them. Defaults to `None` (paper).
        fills: the queue `orders` puts each new `Fill` in. Defaults to `None`.
        flatten_on_kill: when the kill switch trips, sell what the session holds. Defaults
            to `False`.
        on_kill: called once the kill switch has been dealt with (the session stops).
            Defaults to `None`.

    Example:
        >>> cerebro.setbroker(store.getbroker(paper=True))  # doctest: +SKIP
    """

    params = (("filters", None), ("journal", None), ("orders", None), ("fills", None),
              ("flatten_on_kill", False), ("on_kill", None))

    def start(self):
        super().start()
        self._signed = None
        if self.p.orders is not None:
            self._signed = SignedFills(self, self.p.orders, self.p.fills,
                                       flatten=self.p.flatten_on_kill, on_kill=self.p.on_kill)
        self._bars_seen = None
        self._order_keys = {}
        self._orders_this_bar = (None, 0)
        self._next_key = None

    def next(self):
        if self._signed is not None:
            self._signed.work()  # fills, polling and the kill switch, on every loop
        seen = sum(len(data) for data in self.cerebro.datas)
        if seen == self._bars_seen:
            return  # a live loop without a new bar: nothing can fill yet
        self._bars_seen = seen
        super().next()

    def buy(self, owner, data, size, price=None, plimit=None, exectype=None, **kwargs):
        return self._order("buy", super().buy, owner, data, size, price, plimit, exectype,
                           kwargs)

    def sell(self, owner, data, size, price=None, plimit=None, exectype=None, **kwargs):
        return self._order("sell", super().sell, owner, data, size, price, plimit, exectype,
                           kwargs)

    def submit(self, order, check=True):
        key = self._next_key
        self._order_keys[order.ref] = key
        filters = self._filters(order.data)
        reason = None
        if filters is not None:
            market = order.exectype in (None, bt.Order.Market, bt.Order.Close)
            reason = filters.refusal(abs(order.size), order.created.price, market=market)
        self._record("order", key, {"size": order.size, "price": order.created.price,
                                    "refused": reason})
        if reason is None and self._signed is not None:
            return self._signed.send(order, key)
        if reason is None:
            return super().submit(order, check=check)
        logger.info("order %s refused: %s", key, reason)
        order.addinfo(refused=reason)
        order.reject(self)
        self.notify(order)
        return order

    def notify(self, order):
        status = _ENDED.get(order.status)
        key = self._order_keys.get(order.ref)
        if status is not None and key is not None:
            executed = order.executed
            when = utc_datetime(executed.dt) if executed.dt else None
            if order.status == bt.Order.Partial:  # a signed order fills in several parts
                status = f"partial/{len(executed.exbits)}"
            self._record("fill", f"{key}/{status}", {
                "status": status, "size": executed.size, "price": executed.price,
                "commission": executed.comm, "datetime": when and when.isoformat()})
        super().notify(order)

    def _order(self, side, make, owner, data, size, price, plimit, exectype, kwargs):
        when = to_ms(utc_datetime(data.datetime[0]))
        bar, count = self._orders_this_bar
        count = count + 1 if bar == when else 1
        self._orders_this_bar = (when, count)
        self._next_key = f"{when}.{count}"
        journal_forecast(self.p.journal, owner)
        self._record("intent", self._next_key, {"side": side, "size": size, "price": price,
                                                "exectype": exectype})
        filters = self._filters(data)
        if filters is not None:
            market = exectype in (None, bt.Order.Market, bt.Order.Close)
            size = filters.round_quantity(size, market=market)
            price = None if price is None else filters.round_price(price)
            plimit = None if plimit is None else filters.round_price(plimit)
        return make(owner, data, size, price=price, plimit=plimit, exectype=exectype,
                    **kwargs)

    def _filters(self, data):
        return None if self.p.filters is None else self.p.filters(data)

    def _record(self, kind, key, payload):
        if self.p.journal is not None:
            self.p.journal.record(kind, key, payload)
