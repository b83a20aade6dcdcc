"""`PaperSession`: the cerebro script of `lstm-bt trade --paper`, as an object.

The same cerebro as a backtest (`run.runner`): `LSTMStrategy` (or a subclass) with the same
params and seed, lstm-bt's analyzers, the backtest's broker settings; only the feed is live
(`BinanceStore.getdata`) and the broker a `PaperBroker`. The strategy's `start` is the session's
first live bar, so its forecasts and trades are those of a backtest started there.

State lives in one directory: the journal (`live.journal`), replayed on restart, and the run
directory's files kept current (`live.session_files`).
"""

import logging
import threading
import time
from dataclasses import dataclass

import backtrader as bt

from .. import analyzers
from ..data.intervals import get_interval
from ..run.run_dir import RunRecord, read_run_dir, to_json_value
from ..run.runner import broker_params, strategy_params
from ..settings import validate_symbol
from .journal import Journal
from .session_files import remove_partial_files
from .session_recorder import SessionRecorder
from .store import BinanceStore

__all__ = ["PaperSession", "SessionResult"]

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
        **params: strategy params, e.g. `seq_len=60, train_window=2000`.

    Raises:
        InvalidParameter: a bad symbol, interval, param or broker setting.
    """

    def __init__(self, symbol, interval, *, state, strategy=None, cash=10_000.0,
                 commission=0.001, slippage=0.0, seed=0, bars=None, base_url=None,
                 stream_url=None, data_dir=None, stream_factory=None, status=None, **params):
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
        return to_json_value({"symbol": self.symbol, "interval": self.interval,
                              "params": self.report_params})

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
        with Journal.open(self.state, self.identity) as journal:
            remove_partial_files(self.state)
            store = BinanceStore(journal=journal, on_stream=self._on_stream, **self._store_args)
            self._store = store
            if self._stop.is_set():
                store.request_stop()
            store.symbol_filters(self.symbol)  # fetched (and journaled) before any bar
            # Before the history: the first live bar is then the one after the import.
            _load_model_backend()
            walk = WalkForward(**self.strategy.walk_params({**self.params, "seed": self.seed}))
            data = store.getdata(self.symbol, self.interval, history=walk.history_needed(),
                                 live_bars=self.bars)
            cerebro = bt.Cerebro(stdstats=False)
            cerebro.adddata(data, name=self.symbol)
            cerebro.setbroker(store.getbroker(paper=True, **self.broker))
            cerebro.addstrategy(self.strategy, start=data.first_live, seed=self.seed,
                                **self.params)
            analyzers.add_all(cerebro, start=data.first_live)
            cerebro.addanalyzer(SessionRecorder, _name="session", journal=journal,
                                state_dir=self.state, params=self.report_params,
                                on_bar=self.status.bar if self.status else None)
            try:
                strategy = cerebro.run()[0]
            finally:
                store.close()
            logger.info("session ran %.1f s", time.perf_counter() - began)
            record = read_run_dir(self.state) if data.live_bars else None
            return SessionResult(record=record, live_bars=data.live_bars,
                                 resumed=not journal.created, strategy=strategy)

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
