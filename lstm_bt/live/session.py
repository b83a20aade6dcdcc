"""`PaperSession`: the cerebro script of `lstm-bt trade`, as an object.

The same cerebro as a backtest (`run.runner`): `LSTMStrategy` (or a subclass) with the same
params and seed, lstm-bt's analyzers, the backtest's broker settings; only the feed is live
(`BinanceStore.getdata`) and the broker a `BinanceBroker`, simulating fills or, given an
`ExchangeAccess` (`--testnet`, `--live`), sending signed orders through
`lstm_bt.orders.LiveOrders`, whose tables share the session's journal file. The strategy's `start` is the session's
first live bar, so its forecasts and trades are those of a backtest started there.

State lives in one directory: the journal (`live.journal`), replayed on restart, and the run
directory's files kept current (`live.session_files`).
"""

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import backtrader as bt

from .. import analyzers
from ..data.intervals import get_interval
from ..errors import InvalidParameter
from ..run.run_dir import RunRecord, read_run_dir, to_json_value
from ..run.run_params import DEFAULTS
from ..run.runner import broker_params, strategy_params
from ..settings import validate_symbol
from .journal import Journal
from .session_files import remove_partial_files
from .session_recorder import SessionRecorder
from .store import BinanceStore

__all__ = ["PaperSession", "SessionResult", "ExchangeAccess"]

logger = logging.getLogger(__name__)


@dataclass
class SessionResult:
    """How a session run ended.

    Attributes:
        record: the session's files as a `RunRecord` (report, equity, trades, forecasts,
            training), as written to its state directory; None before its first live bar.
        live_bars: live bars the session has dealt with, over all its runs.
        resumed: whether this run resumed a journaled session.
        strategy: the strategy instance after the run.
    """

    record: RunRecord
    live_bars: int
    resumed: bool
    strategy: bt.Strategy = None


@dataclass(frozen=True)
class ExchangeAccess:
    """Where and how a session sends signed orders; its REST root is the session's
    `base_url`.

    Attributes:
        name: `"testnet"` or `"live"` (part of the session's identity).
        api_key: a `lstm_bt.binance.signing.ApiKey`.
        ws_api_url: the WebSocket API root for the user data stream, or `None` to poll.
        limits: `lstm_bt.orders.RiskLimits`, or `None` for none.
        kill_file: the kill switch's file (SIGUSR1 trips it too), or `None`.
        flatten_on_kill: sell the session's position when the kill switch trips.
    """

    name: str
    api_key: object
    ws_api_url: str | None = None
    limits: object = None
    kill_file: str | None = None
    flatten_on_kill: bool = False


class PaperSession:
    """A paper trading session on live Binance klines, journaled in `state`.

    Args:
        symbol: Binance symbol, e.g. `"BTCUSDT"`.
        interval: Binance interval, e.g. `"1h"`.
        state: the session's directory (journal and files); the same directory resumes the
            session, and one holding another session is refused.
        strategy: `LSTMStrategy` or a subclass. Defaults to `LSTMStrategy`.
        cash, commission, slippage: the broker, as for `run_backtest`. Default to `10000.0`,
            `0.001` and `0.0`.
        seed: the model seed, as for `run_backtest`. Defaults to `0`.
        bars: end the session after its `bars`-th live bar (counting the bars of earlier
            runs). Defaults to `None` (run until `request_stop`).
        base_url, stream_url, data_dir: see `BinanceStore`.
        stream_factory: see `BinanceStore`. Defaults to `None` (the Binance kline stream).
        status: a `StatusLine` (or any object with `bar(report)` and `stream(data)`), or
            None for none. Defaults to `None`.
        exchange: an `ExchangeAccess` to send signed orders with, or None for simulated
            fills. Defaults to `None`.
        **params: strategy params, e.g. `seq_len=60, train_window=2000`.

    Raises:
        InvalidParameter: a bad symbol, interval, param or broker setting.
    """

    def __init__(self, symbol, interval, *, state, strategy=None, cash=DEFAULTS["cash"],
                 commission=DEFAULTS["commission"], slippage=DEFAULTS["slippage"],
                 seed=DEFAULTS["seed"], bars=None, base_url=None,
                 stream_url=None, data_dir=None, stream_factory=None, status=None, exchange=None,
                 **params):
        from ..strategies import LSTMStrategy

        self.strategy = strategy or LSTMStrategy
        used = strategy_params(self.strategy, params)
        checked = self.strategy.check_params(**used, seed=seed)
        self.params = {name: checked[name] for name in used}
        self.seed = checked["seed"]
        self.broker = broker_params(cash, commission, slippage)
        self.symbol = validate_symbol(symbol)
        self.interval = get_interval(interval).name
        self.state = state
        self.bars = bars
        self.status = status
        self.exchange = exchange
        self._store_args = {"base_url": base_url, "stream_url": stream_url,
                            "data_dir": data_dir, "stream_factory": stream_factory}
        self._stop = threading.Event()
        self._store = None

    @property
    def report_params(self):
        """The report's `params`: the strategy, its params, the broker and the seed."""
        return {"strategy": self.strategy.__name__, **self.params, **self.broker,
                "seed": self.seed}

    @property
    def identity(self):
        """What makes two runs the same session: symbol, interval and every param."""
        identity = {"symbol": self.symbol, "interval": self.interval,
                    "params": self.report_params}
        if self.exchange is not None:
            identity["orders"] = self.exchange.name
        return to_json_value(identity)

    @property
    def stopping(self):
        """Whether `request_stop` was called."""
        return self._stop.is_set()

    def request_stop(self):
        """End the run cleanly once the bar in hand is dealt with (safe from a signal
        handler); the position is left as it is."""
        self._stop.set()
        if self._store is not None:
            self._store.request_stop()

    def run(self):
        """Run (or resume) the session until `bars` live bars or `request_stop`.

        Returns:
            A `SessionResult`.

        Raises:
            SessionMismatch: `state` holds another session, or is in use.
            JournalMismatch: the replay of the journal decided differently.
            DataError, BinanceError, NetworkError: history or exchange rules unavailable.
        """
        from ..models.walk_forward import WalkForward

        began = time.perf_counter()
        if self.exchange is not None and self.exchange.kill_file is not None and \
                Path(self.exchange.kill_file).exists():
            raise InvalidParameter(
                f"the kill file {self.exchange.kill_file} exists: the session was killed; "
                f"delete the file to trade again.")
        with Journal.open(self.state, self.identity) as journal:
            remove_partial_files(self.state)
            store = BinanceStore(journal=journal, on_stream=self._on_stream, **self._store_args)
            self._store = store
            if self._stop.is_set():
                store.request_stop()
            store.symbol_filters(self.symbol)  # fetched (and journaled) before any bar
            orders, fills = (None, None) if self.exchange is None else \
                self._start_orders(journal, store.base_url)
            try:
                # Before the history: the first live bar is then the one after the import.
                _load_model_backend()
                walk = WalkForward(**self.strategy.walk_params({**self.params,
                                                                "seed": self.seed}))
                data = store.getdata(self.symbol, self.interval,
                                     history=walk.history_needed(), live_bars=self.bars)
                cerebro = bt.Cerebro(stdstats=False)
                cerebro.adddata(data, name=self.symbol)
                cerebro.setbroker(store.getbroker(
                    paper=orders is None, orders=orders, fills=fills,
                    flatten_on_kill=self.exchange is not None and self.exchange.flatten_on_kill,
                    **self.broker))
                cerebro.addstrategy(self.strategy, start=data.first_live, seed=self.seed,
                                    **self.params)
                analyzers.add_all(cerebro, start=data.first_live)
                cerebro.addanalyzer(SessionRecorder, _name="session", journal=journal,
                                    state_dir=self.state, params=self.report_params,
                                    on_bar=self.status.bar if self.status else None)
                strategy = cerebro.run()[0]
            finally:
                store.close()
                if orders is not None:
                    orders.close()
                    orders.journal.close()
            logger.info("session ran %.1f s", time.perf_counter() - began)
            record = read_run_dir(self.state) if data.live_bars else None
            return SessionResult(record=record, live_bars=data.live_bars,
                                 resumed=not journal.created, strategy=strategy)

    def _start_orders(self, journal, base_url):
        """The session's `LiveOrders`, reconciled with Binance, and the queue its fills come
        through (`ReconcileError` when Binance holds what the journal cannot explain)."""
        from ..binance.account import SignedClient
        from ..orders import KillSwitch, LiveOrders, SqliteOrderJournal

        session_id = journal.get("session_id")
        if session_id is None:
            session_id = uuid.uuid4().hex  # client order ids differ between state dirs
            journal.put("session_id", session_id)
        exchange = self.exchange
        fills = queue.SimpleQueue()
        orders = LiveOrders(SignedClient(exchange.api_key, base_url),
                            SqliteOrderJournal(journal.path), session_id, self.symbol,
                            ws_api_url=exchange.ws_api_url, limits=exchange.limits,
                            kill_switch=KillSwitch(exchange.kill_file), on_fill=fills.put)
        try:
            found = orders.start()
        except BaseException:
            orders.close()
            orders.journal.close()
            raise
        logger.info("reconciled: position %s, open orders %s", found.position,
                    found.open_orders)
        return orders, fills

    def _on_stream(self, data):
        if self.status is not None:
            self.status.stream(data)


def _load_model_backend():
    """Import Keras and its backend before the stream opens: the import takes seconds (the
    session would start behind the stream) and holds the GIL for up to a second at a time,
    which would keep the stream's thread from answering pings (a fit holds it a few ms)."""
    import keras  # noqa: F401

    from ..models.backend import configure

    configure()
