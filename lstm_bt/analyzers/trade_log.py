"""One row per closed trade (the runner's trades.csv), and the trades still open at the end."""

from ..data.bar_times import utc_datetime
from ._measured import MeasuredAnalyzer

__all__ = ["TradeLog", "TRADE_COLUMNS", "OpenedSizes"]

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


class OpenedSizes:
    """The size each trade opened with: backtrader reports a closed trade's size as 0."""

    def __init__(self):
        self._sizes = {}

    def update(self, trade):
        """Record a trade notification; returns the opened size once the trade has closed
        (None while it is open, or when its opening was never seen)."""
        key = (id(trade.data), trade.tradeid, trade.ref)
        if trade.justopened:
            self._sizes[key] = abs(trade.size)
        return self._sizes.pop(key, None) if trade.isclosed else None


class TradeLog(MeasuredAnalyzer):
    """Every trade closed at or after `start`, in the order they closed.

    backtrader reports a closed trade's size as 0 and notifies a trade only when it opens and
    when it closes, so `size` is the size it opened with. `entry_price` is backtrader's
    average entry price and `exit_price` the average exit implied by the gross profit,
    entry + pnl / signed size: exact for trades opened in one fill, approximate for trades
    scaled into after opening.

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
        self._opened = OpenedSizes()
        self._open = {}

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
        size = self._opened.update(trade)
        key = (id(trade.data), trade.tradeid, trade.ref)
        if trade.isopen:
            self._open[key] = trade
        else:
            self._open.pop(key, None)
        if not trade.isclosed:
            return
        closed = utc_datetime(trade.dtclose)
        if not self.measuring(closed):
            return
        sign = 1.0 if trade.long else -1.0
        row = {
            "open_datetime": utc_datetime(trade.dtopen),
            "close_datetime": closed,
            "data": self._data_name(trade.data),
            "side": "long" if trade.long else "short",
            "size": size,
            "entry_price": trade.price,
            "exit_price": trade.price + trade.pnl / (sign * size) if size else None,
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
