"""`BinanceStore`: Binance's live klines and a broker, in backtrader's store pattern.

As backtrader's own stores (`stores/oandastore.py`) do, the store holds what the feeds and the
broker share (the REST root, the stream root, the kline store, the session's journal, the
symbol rules) and makes them: `getdata(...)` a `LiveKlines` feed, `getbroker(...)` a
`BinanceBroker` (paper or signed). Unlike backtrader's stores it is no singleton: two
sessions may run in one process (tests do).
"""

import collections
import threading

from ..binance.symbol_filters import SymbolFilters, fetch_symbol_filters
from ..data.dates import to_ms, utc_now
from ..data.intervals import get_interval
from ..errors import InvalidParameter, check_int
from ..run.run_params import DEFAULTS
from ..settings import resolve_base_url, resolve_stream_url, validate_symbol
from .live_klines import LiveKlines

__all__ = ["BinanceStore"]


class BinanceStore:
    """Live Binance klines and a paper broker for cerebro.

    Args:
        base_url: REST root (history, gap filling, `exchangeInfo`). Defaults to `None`:
            `$LSTM_BT_BINANCE_URL`, else `https://api.binance.com`.
        stream_url: websocket root; the kline stream is `<root>/ws/<symbol>@kline_<interval>`.
            Defaults to `None`: `$LSTM_BT_STREAM_URL`, else `wss://stream.binance.com:9443`.
        data_dir: the kline store the warm-up history is read through. Defaults to `None`:
            `$LSTM_BT_DATA_DIR`, else `./feeds`.
        journal: a `live.journal.Journal`: bars, orders and fills are journaled in it and a
            session that has one replays it. Defaults to `None` (nothing is kept).
        stream_factory: makes the kline stream: called as `stream_factory(symbol, interval,
            after_ms=..., base_url=..., stream_url=...)`, returning an object with `start()`,
            `get(timeout)`, `close()` and `status`. Defaults to `None`:
            `lstm_bt.binance.stream.ClosedKlines`.
        on_stream: called with the feed whenever its stream state may have changed (for a
            status line). Defaults to `None`.

    Example:
        >>> store = BinanceStore()                                      # doctest: +SKIP
        >>> data = store.getdata(symbol="BTCUSDT", interval="1h", history=2060)  # doctest: +SKIP
        >>> cerebro.adddata(data)                                       # doctest: +SKIP
        >>> cerebro.setbroker(store.getbroker(paper=True))              # doctest: +SKIP
        >>> cerebro.addstrategy(LSTMStrategy, start=data.first_live)    # doctest: +SKIP
    """

    def __init__(self, base_url=None, stream_url=None, data_dir=None, journal=None,
                 stream_factory=None, on_stream=None):
        self.base_url = resolve_base_url(base_url)
        self.stream_url = resolve_stream_url(stream_url)
        self.data_dir = data_dir
        self.journal = journal
        self.stream_factory = stream_factory
        self.on_stream = on_stream
        self.notifs = collections.deque()
        self.datas = []
        self._filters = {}
        self._stop = threading.Event()

    def getdata(self, symbol, interval, history=0, live_bars=None, **kwargs):
        """A live feed of `symbol`'s closed `interval` klines.

        A new session loads the last `history` closed bars (through the kline store) and
        journals them; its first live bar (`data.first_live`) is the bar after the last of
        them. A resumed session (a journal with bars) replays every journaled bar instead.

        Args:
            symbol: Binance symbol, e.g. `"BTCUSDT"`.
            interval: Binance interval, e.g. `"1h"`.
            history: closed bars to load before the first live bar: what the strategy needs
                for its first model (`WalkForward.history_needed()`). Defaults to `0`.
            live_bars: end the feed after the session's `live_bars`-th live bar (replayed
                ones count). Defaults to `None` (never).
            **kwargs: `LiveKlines` params (`name`, `qcheck`, ...).

        Raises:
            InvalidParameter: a bad symbol, interval or count.
            BinanceError, NetworkError: the history could not be loaded.
        """
        symbol = validate_symbol(symbol)
        step = get_interval(interval)
        history = check_int("history", history)
        live_bars = check_int("live_bars", live_bars, low=1, none_ok=True)
        opening = self._opening_bars(symbol, step, history)
        first_live_ms = self._first_live_ms(step, opening)
        data = LiveKlines(symbol=symbol, interval=step.name, store=self, opening=opening,
                          first_live_ms=first_live_ms, live_bars_limit=live_bars, **kwargs)
        self.datas.append(data)
        return data

    def getbroker(self, paper=True, cash=DEFAULTS["cash"], commission=DEFAULTS["commission"],
                  slippage=DEFAULTS["slippage"], *,
                  orders=None, fills=None, flatten_on_kill=False):
        """The broker: a `BinanceBroker` set up as a backtest's broker
        (`run.runner.set_up_broker`), applying each symbol's `exchangeInfo` filters and
        journaling its orders in the store's journal; with `paper=False` its market orders
        go to Binance through `orders`.

        Args:
            paper: simulate fills. Defaults to `True`.
            cash: starting cash in the quote currency (signed: the session's budget; fills
                move it). Defaults to `10000.0`.
            commission: fee per simulated trade, a fraction of its value. Defaults to `0.001`.
            slippage: simulated fills worse than the bar's price by this fraction. Defaults
                to `0.0`.
            orders: with `paper=False`, a started `lstm_bt.orders.LiveOrders` whose
                `on_fill` is `fills.put`.
            fills: the queue `orders` puts each new fill in.
            flatten_on_kill: sell the session's position when the kill switch trips.
                Defaults to `False`.
        """
        from ..run.runner import broker_params, set_up_broker
        from .broker import BinanceBroker

        if not paper and orders is None:
            raise InvalidParameter(
                "BinanceStore.getbroker(paper=False) needs `orders`, a started "
                "lstm_bt.orders.LiveOrders, and its `fills` queue.")
        broker = BinanceBroker(filters=self.symbol_filters_for, journal=self.journal,
                               orders=None if paper else orders, fills=fills,
                               flatten_on_kill=flatten_on_kill, on_kill=self.request_stop)
        return set_up_broker(broker, broker_params(cash, commission, slippage))

    def symbol_filters(self, symbol):
        """`symbol`'s `SymbolFilters`: from the journal when the session has them, else from
        `exchangeInfo` (then journaled, so a resumed session trades by the same rules)."""
        if symbol not in self._filters:
            stored = self.journal.get(f"filters/{symbol}") if self.journal else None
            if stored is not None:
                filters = SymbolFilters.from_dict(stored)
            else:
                filters = fetch_symbol_filters(symbol, self.base_url)
                if self.journal is not None:
                    self.journal.put(f"filters/{symbol}", filters.to_dict())
            self._filters[symbol] = filters
        return self._filters[symbol]

    def symbol_filters_for(self, data):
        """The `SymbolFilters` of a feed's symbol (None for a feed without one)."""
        symbol = getattr(data.p, "symbol", None)
        return None if symbol is None else self.symbol_filters(symbol)

    def open_stream(self, symbol, interval, after_ms):
        """Start the closed-kline stream of bars opening after `after_ms`."""
        factory = self.stream_factory
        if factory is None:
            from ..binance.stream import ClosedKlines as factory
        stream = factory(symbol, interval.name, after_ms=after_ms, base_url=self.base_url,
                         stream_url=self.stream_url)
        stream.start()
        return stream

    def journal_bar(self, row, live):
        """Journal one bar before it is delivered (nothing without a journal)."""
        if self.journal is not None:
            self.journal.add_bars([row], live)

    def stream_changed(self, data):
        if self.on_stream is not None:
            self.on_stream(data)

    @property
    def stopping(self):
        """Whether `request_stop` was called: the feeds end at their next bar boundary."""
        return self._stop.is_set()

    def request_stop(self):
        """End the session cleanly: each feed ends once the bar in hand is dealt with
        (safe to call from a signal handler or another thread)."""
        self._stop.set()

    def close(self):
        """Close every feed's kline stream (cerebro's stop does too; this also after an
        error)."""
        for data in self.datas:
            data.close_stream()

    def start(self, data=None, broker=None):
        """backtrader's store hook (`cerebro.addstore`); nothing to do."""

    def stop(self):
        """backtrader's store hook; the feeds close their streams themselves."""

    def put_notification(self, msg, *args, **kwargs):
        self.notifs.append((msg, args, kwargs))

    def get_notifications(self):
        """Pending store notifications (backtrader's `Store` API)."""
        notifs = list(self.notifs)
        self.notifs.clear()
        return notifs

    def _opening_bars(self, symbol, step, history):
        """`(row, live)` pairs to deliver first: the journal's bars, or the last `history`
        closed bars (journaled now when there is a journal)."""
        if self.journal is not None:
            journaled = self.journal.bars()
            if journaled:
                return journaled
        rows = _last_closed_rows(symbol, step, history, self.base_url, self.data_dir)
        if self.journal is not None:
            self.journal.add_bars(rows, live=False)
        return [(row, False) for row in rows]

    def _first_live_ms(self, step, opening):
        """The first live bar: journaled, or the bar after the last history bar."""
        if self.journal is not None and self.journal.get("first_live_ms") is not None:
            return self.journal.get("first_live_ms")
        if opening:
            first = step.next_open(opening[-1][0][0])
        else:
            now = to_ms(utc_now())
            first = now - now % step.shortest_ms
        if self.journal is not None:
            self.journal.put("first_live_ms", first)
        return first


def _last_closed_rows(symbol, step, count, base_url, data_dir):
    """The last `count` closed bars as kline rows (through the kline store)."""
    from ..binance import load_klines
    from ..data.dates import from_ms

    if count == 0:
        return []
    now = to_ms(utc_now())
    frame = load_klines(symbol, step, from_ms(now - (count + 2) * step.longest_ms),
                        base_url=base_url, data_dir=data_dir).iloc[-count:]
    opens = (frame.index.values.astype("datetime64[ms]").astype("int64")).tolist()
    rows = []
    for open_time, bar in zip(opens, frame.itertuples(index=False)):
        rows.append((open_time, bar.open, bar.high, bar.low, bar.close, bar.volume,
                     step.close_ms(open_time), bar.quote_volume, int(bar.trades),
                     bar.taker_buy_base_volume, bar.taker_buy_quote_volume))
    return rows
