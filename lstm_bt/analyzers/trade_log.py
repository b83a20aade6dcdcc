"""One row per closed trade (the runner's trades.csv), and the trades still open at the end."""

from ..data.bar_times import utc_datetime
from ._measured import MeasuredAnalyzer

__all__ = ["TradeLog", "TRADE_COLUMNS", "TradeFills"]

TRADE_COLUMNS = (
    "open_datetime",
    "close_datetime",
    "data",
    "side",
    "size",
    "entry_price",
    "exit_price",
    "pnl",
    "pnl_net",
    "commission",
    "bars_held",
)


class TradeFills:
    """What each trade was filled at, from open to flat, read from its orders' fills.

    backtrader reports a closed trade's size as 0 and only its first average price, so a
    trade added to or reduced is accounted here: `size` is the quantity it entered in all,
    `entry_price` and `exit_price` the average prices of its entries and exits (so
    pnl = size * (exit - entry) for a long), and `capital` the most it held at cost at once,
    what its return is measured on. Feed it every order notification, then ask for a trade
    when backtrader says it closed.
    """

    def __init__(self):
        self._open, self._closed, self._bits_seen = {}, {}, {}

    def add_order(self, order):
        """Account the fills of `order` not yet seen (partial fills arrive one by one)."""
        bits = list(order.executed.exbits)
        seen = self._bits_seen.pop(order.ref, 0)
        if order.alive():
            self._bits_seen[order.ref] = len(bits)
        key = (id(order.data), order.tradeid)
        for bit in bits[seen:]:
            if bit.closed:
                self._exit(key, abs(bit.closed), bit.price)
            if bit.opened:
                self._enter(key, abs(bit.opened), bit.price)

    def closed(self, trade):
        """The accounting of a trade that has just closed: `(size, entry_price, exit_price,
        capital)`, or None where its fills were not seen."""
        queue = self._closed.get((id(trade.data), trade.tradeid))
        if not queue:
            return None
        done = queue.pop(0)
        return (done["entered"], done["entry_value"] / done["entered"],
                done["exit_value"] / done["exited"], done["peak_cost"])

    def _enter(self, key, quantity, price):
        held = self._open.setdefault(key, {"entered": 0.0, "entry_value": 0.0, "exited": 0.0,
                                           "exit_value": 0.0, "held": 0.0, "cost": 0.0,
                                           "peak_cost": 0.0})
        held["entered"] += quantity
        held["entry_value"] += quantity * price
        held["held"] += quantity
        held["cost"] += quantity * price
        held["peak_cost"] = max(held["peak_cost"], held["cost"])

    def _exit(self, key, quantity, price):
        held = self._open.get(key)
        if held is None:
            return
        held["cost"] -= quantity * held["cost"] / held["held"]
        held["held"] -= quantity
        held["exited"] += quantity
        held["exit_value"] += quantity * price
        if held["held"] <= 1e-12 * held["entered"]:
            self._closed.setdefault(key, []).append(self._open.pop(key))


class TradeLog(MeasuredAnalyzer):
    """Every trade closed at or after `start`, in the order they closed.

    A trade runs from flat to flat; one added to or reduced is accounted by `TradeFills`:
    `size` is the quantity it entered in all, `entry_price` and `exit_price` the average
    prices of its entries and exits.

    Params:

      - ``start``, ``bars_per_year``: see `MeasuredAnalyzer` (no annualizing happens here).

    `get_analysis()` returns columns `TRADE_COLUMNS`, ready for ``pandas.DataFrame(...)``:
    datetimes, the data's name, side ``"long"``/``"short"``, size (positive), prices, pnl
    (gross), pnl_net (after commission), commission, bars_held (bars from open to close).
    `open_trades()` lists the trades still open after the run.
    """

    def start(self):
        super().start()
        self.rets = {name: [] for name in TRADE_COLUMNS}
        self._fills = TradeFills()
        self._open = {}

    def notify_order(self, order):
        self._fills.add_order(order)

    def open_trades(self):
        """The trades open at the last bar, as rows with `TRADE_COLUMNS` and `mark_price`.

        `close_datetime` and `exit_price` are None; `pnl` and `pnl_net` are marked to the
        last close (`mark_price`), the commission being the one paid so far; `bars_held`
        counts the bars from the open to the last bar.
        """
        rows = []
        for trade in self._open.values():
            mark = trade.data.close[0]
            pnl = (mark - trade.price) * trade.size
            rows.append({
                "open_datetime": utc_datetime(trade.dtopen),
                "close_datetime": None,
                "data": self._data_name(trade.data),
                "side": "long" if trade.long else "short",
                "size": abs(trade.size),
                "entry_price": trade.price,
                "exit_price": None,
                "pnl": pnl,
                "pnl_net": pnl - trade.commission,
                "commission": trade.commission,
                "bars_held": len(trade.data) - trade.baropen,
                "mark_price": mark,
            })
        return rows

    def notify_trade(self, trade):
        super().notify_trade(trade)
        key = (id(trade.data), trade.tradeid, trade.ref)
        if trade.isopen:
            self._open[key] = trade
        else:
            self._open.pop(key, None)
        if not trade.isclosed:
            return
        accounted = self._fills.closed(trade)
        closed = utc_datetime(trade.dtclose)
        if not self.measuring(closed):
            return
        size, entry_price, exit_price, _ = accounted or (None, trade.price, None, None)
        row = {
            "open_datetime": utc_datetime(trade.dtopen),
            "close_datetime": closed,
            "data": self._data_name(trade.data),
            "side": "long" if trade.long else "short",
            "size": size,
            "entry_price": entry_price,
            "exit_price": exit_price,
            "pnl": trade.pnl,
            "pnl_net": trade.pnlcomm,
            "commission": trade.commission,
            "bars_held": trade.barlen,
        }
        for name, value in row.items():
            self.rets[name].append(value)

    def stop(self):
        """Nothing to compute: a row is final when its trade closes."""

    def _data_name(self, data):
        if data._name:
            return data._name
        # Compare by identity: `==` on backtrader lines builds an operation, not a bool.
        return next(f"data{i}" for i, known in enumerate(self.strategy.datas) if known is data)
