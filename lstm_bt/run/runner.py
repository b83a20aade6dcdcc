"""`run_backtest()`: the cerebro script of an lstm-bt backtest, as one function.

`examples/cerebro_script.py` is the same script written out for copying.
"""

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass

import backtrader as bt
import pandas as pd

from .backtest_data import load_backtest_data
from ..data.bar_times import bar_time
from ..errors import fill_params
from .run_dir import RunRecord, claim_run_dir, write_run_dir
from .run_params import DEFAULTS, broker_params

__all__ = [
    "run_backtest",
    "BacktestResult",
    "build_result",
    "build_report",
    "demo_klines",
    "strategy_params",
    "broker_params",
    "set_up_broker",
    "RUN_MANAGED_PARAMS",
]

log = logging.getLogger(__name__)

# Strategy params the runner sets itself (from `start`, `seed` and the forecast cache).
RUN_MANAGED_PARAMS = ("start", "seed", "forecasts")

DEMO_SYMBOL = "DEMO"
DEMO_INTERVAL = "1h"


@dataclass
class BacktestResult(RunRecord):
    """A finished backtest: a `RunRecord` plus the `strategy` instance after the run."""

    strategy: bt.Strategy = None


def demo_klines(bars=4_000, seed=7):
    """The `--demo` data: hourly bars from 2024-01-01 whose log returns follow AR(1), phi 0.3.

    Synthetic structure a working forecaster should find: to see the machinery work offline.
    """
    from ..data.synthetic import ar1_returns

    return ar1_returns(bars, phi=0.3, interval=DEMO_INTERVAL, seed=seed)


def run_backtest(data=None, *, symbol=None, interval=None, start=None, end=None,
                 strategy=None, cash=DEFAULTS["cash"], commission=DEFAULTS["commission"],
                 slippage=DEFAULTS["slippage"], seed=DEFAULTS["seed"],
                 base_url=None, data_dir=None, offline=False, out=None, force=False,
                 quiet=True, cache=True, forecasts=None, **params):
    """Run a walk-forward LSTM backtest.

    Args:
        data: a kline frame, a path to a Binance kline file (`.csv`/`.zip`), or `None` to read
            `symbol`/`interval` from Binance through the local kline store.
        symbol: Binance symbol, e.g. `"BTCUSDT"` (a label for files and frames).
        interval: Binance interval, e.g. `"1h"` (inferred for files and frames).
        start: first traded and measured bar, UTC, inclusive (`"2024-01-01"` or a datetime).
            The warm-up history the first model needs is loaded from before it. Defaults to
            `None`: the first bar with enough history.
        end: exclusive end, UTC. Defaults to `None`: the end of the data.
        strategy: the strategy class, `LSTMStrategy` or a subclass. Defaults to `LSTMStrategy`.
        cash, commission, slippage, seed: the broker and run params (`run.run_params`):
            starting cash in the quote currency, fee per trade and slippage as fractions of
            its value, the model's seed (the same data, params and seed give identical
            forecasts and trades).
        base_url: Binance REST root. Defaults to `$LSTM_BT_BINANCE_URL` or api.binance.com.
        data_dir: kline store and forecast cache directory. Defaults to
            `$LSTM_BT_DATA_DIR` or `./feeds`.
        offline: read Binance bars from the kline store only, never the network (with
            `data=None`); missing bars are an error. Defaults to `False`.
        out: write a run directory here, held for the whole run (`run_dir`). Defaults to
            `None`: nothing is written.
        force: overwrite `out` even when it holds a different run. Defaults to `False`.
        quiet: hide the progress bars. Defaults to `True`.
        cache: reuse and store forecasts in the forecast cache (`run.forecast_cache`);
            `report["timing"]["cache"]` says `"hit"`, `"miss"` or `"off"`. Defaults to `True`.
        forecasts: forecasts to trade instead of training (a `models.ReplayedForecasts`, or
            predicted closes by bar open time); the cache is then not used. Defaults to `None`.
        **params: strategy params, e.g. `seq_len=60, train_window=2000, retrain_every=168`.

    Returns:
        A `BacktestResult`.

    Raises:
        InvalidParameter: a param or date is invalid.
        DataError: the data is missing, unreadable, or too short for the first model.
        RunDirInUse: `out` holds a different run and `force` is off, or another run is
            writing it.

    Example:
        >>> result = run_backtest(demo_klines(), symbol="DEMO", seq_len=8,  # doctest: +SKIP
        ...                       train_window=120, retrain_every=48, epochs=2, units=(4,))
    """
    from ..models import WalkForward
    from ..strategies import LSTMStrategy

    began = time.perf_counter()
    strategy = strategy or LSTMStrategy
    used = strategy_params(strategy, params)
    # As checked: a NumPy integer param becomes the int that keys the cache and is reported.
    checked = strategy.check_params(**used, seed=seed)
    used, seed = {name: checked[name] for name in used}, checked["seed"]
    broker = broker_params(cash, commission, slippage)
    bars = load_backtest_data(
        data, symbol=symbol, interval=interval, start=start, end=end,
        history=WalkForward(**strategy.walk_params({**used, "seed": seed})).history_needed(),
        base_url=base_url, data_dir=data_dir, offline=offline, progress=not quiet,
    )
    head = {
        "data": bars.describe(),
        # As checked, `warm_epochs` is at most `epochs`: the report says what ran.
        "params": {"strategy": strategy.__name__, **used, **broker, "seed": seed},
    }
    with claim_run_dir(out, head, force=force) if out is not None else nullcontext():
        store, key, cached = _cache_lookup(cache and forecasts is None, data_dir, bars,
                                           strategy, used, seed)
        replay = forecasts
        if cached:
            from ..models.walk_forward import ReplayedForecasts

            replay = ReplayedForecasts(cached.forecasts, cached.training_history)
        # A replay trains nothing: only a strategy whose own lines read it needs the warm-up.
        replay_bars = bars.for_replay() if replay is not None and strategy.replay_from_start \
            else bars
        strat = _run_cerebro(replay_bars, strategy, used, broker, seed, quiet, forecasts=replay)
        if store is not None and not cached:
            store.store(key, strat, describe={"data": head["data"], "params": head["params"]})
        status = "off" if store is None else ("hit" if cached else "miss")
        result = build_result(strat, head, total_s=time.perf_counter() - began, cache=status)
        if out is not None:
            write_run_dir(out, result, force=force)
    return result


def strategy_params(strategy, params):
    """Every param `strategy` will run with: its defaults overridden by `params`.

    Raises:
        InvalidParameter: a name in `params` is no param of `strategy` (with a suggestion).
    """
    used = fill_params(strategy.__name__, params, dict(strategy.params._getitems()),
                       refused=RUN_MANAGED_PARAMS)
    return {name: value for name, value in used.items() if name not in RUN_MANAGED_PARAMS}


def build_result(strategy, head, total_s, cache="off"):
    """A finished strategy's analyzers as a `BacktestResult`; `head` is the report's `data`
    and `params`, `cache` the forecast cache's outcome."""
    analyzers = strategy.analyzers
    equity = pd.DataFrame(analyzers.equity.get_analysis()).set_index("datetime")
    trades = pd.DataFrame(analyzers.trades.get_analysis())
    forecasts = strategy.forecasts_frame()
    if "datetime" in forecasts.columns:
        forecasts = forecasts.set_index("datetime")
    measured = forecasts.index >= pd.Timestamp(head["data"]["start"])
    return BacktestResult(
        report=build_report(strategy, head, total_s, cache),
        equity=equity,
        trades=trades,
        forecasts=forecasts[measured],
        training=strategy.training_history,
        strategy=strategy,
    )


def build_report(strategy, head, total_s, cache="off"):
    """The `report.json` dict from a finished strategy's analyzers and timing."""
    analyzers = strategy.analyzers
    timing = strategy.timing
    return {
        **head,
        "metrics": dict(analyzers.metrics.get_analysis()),
        "benchmark": dict(analyzers.benchmark.get_analysis()),
        "forecast": dict(analyzers.forecast.get_analysis()),
        "open_trades": analyzers.trades.open_trades(),
        "timing": {
            "total_s": round(total_s, 3),
            "train_s": round(timing["train_s"], 3),
            "predict_s": round(timing["predict_s"], 3),
            "retrains": timing["retrains"],
            "cache": cache,
        },
    }


def set_up_broker(broker, settings):
    """Give a backtrader broker a backtest's cash, commission and slippage.

    Fills happen at the next bar's open; `lstm-bt trade`'s paper broker is set up by this
    same call, so its fills are the backtest's.

    Args:
        broker: a `backtrader.brokers.BackBroker` (or a subclass).
        settings: `broker_params(...)`'s dict.
    """
    broker.setcash(settings["cash"])
    broker.setcommission(commission=settings["commission"])
    if settings["slippage"]:
        broker.set_slippage_perc(settings["slippage"])
    return broker


def _cache_lookup(enabled, data_dir, bars, strategy, used, seed):
    """(cache or None, key, cached run or None) for this backtest."""
    if not enabled:
        return None, None, None
    from .forecast_cache import ForecastCache, cache_key
    from ..models.backend import backend_name

    store = ForecastCache.in_data_dir(data_dir)
    key = cache_key(bars.frame, strategy, used, seed, bars.start, backend_name())
    cached = store.load(key)
    log.info("forecast cache %s: %s", "hit" if cached else "miss", store.entry_dir(key))
    return store, key, cached


def _run_cerebro(bars, strategy, used, broker, seed, quiet, forecasts=None):
    from .. import analyzers
    from ..feeds import BinanceKlines

    cerebro = bt.Cerebro(stdstats=False)
    set_up_broker(cerebro.broker, broker)
    cerebro.adddata(BinanceKlines(dataname=bars.frame, interval=bars.interval), name=bars.symbol)
    cerebro.addstrategy(strategy, start=bars.start, seed=seed, forecasts=forecasts, **used)
    analyzers.add_all(cerebro, start=bars.start)
    if not quiet:
        retrains = math.ceil(bars.bars / used["retrain_every"])
        cerebro.addanalyzer(_Progress, _name="progress", total=bars.bars, start=bars.start,
                            retrains=retrains)
    return cerebro.run()[0]


class _Progress(bt.Analyzer):
    """A tqdm bar over the traded bars, with the retrains done; its rate averages the whole
    run (`smoothing=0`), so the ETA does not leap at each retrain."""

    params = (("total", None), ("start", None), ("retrains", None))

    def start(self):
        self._bar = None
        self._retrains = -1

    def next(self):
        if self.p.start is not None and bar_time(self.strategy.data) < self.p.start:
            return  # warm-up: nothing traded yet
        if self._bar is None:
            # Not in start(): a strategy refusing its params there leaves no half-drawn bar.
            from tqdm import tqdm

            self._bar = tqdm(total=self.p.total, unit="bar", desc="backtest", dynamic_ncols=True,
                             smoothing=0)
        self._bar.update(1)
        retrains = self.strategy.timing["retrains"]
        if retrains != self._retrains:
            self._retrains = retrains
            self._bar.set_postfix_str(f"retrains {retrains}/{self.p.retrains}", refresh=False)

    def stop(self):
        if self._bar is not None:
            self._bar.close()
