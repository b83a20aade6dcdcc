"""Plan a sweep: its configs, its cells, and the walk-forwards that compute them.

A **config** is one combination of the model and trading params; a **cell** is a config on
one symbol, period and seed. A **walk-forward** (one symbol, period, model params and seed)
trains once; every cell sharing it replays its forecasts. It is named by the forecast cache's
key (`run.forecast_cache.cache_key`), so a stored cell is reused only for the same bars,
params, seed, strategy and model source, Keras backend and versions.
"""

import hashlib
import json
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Cell", "TrainingTask", "bars_for", "plan_sweep"]


@dataclass(frozen=True)
class Cell:
    """One backtest of the sweep.

    Attributes:
        key: the name of its stored result: its walk-forward's key, trading params and broker.
        config: the config's number (0-based, the spec's order).
        symbol, interval, period_start, period_end, seed: where it runs.
        model: the model params (the walk-forward's).
        trading: the trading params.
    """

    key: str
    config: int
    symbol: str
    interval: str
    period_start: str
    period_end: str
    seed: int
    model: dict
    trading: dict


@dataclass
class TrainingTask:
    """One walk-forward to train and the cells that replay it.

    Attributes:
        key: its forecast cache key.
        symbol, interval, period_start, period_end, seed, model: what trains.
        cells: the cells replaying its forecasts.
    """

    key: str
    symbol: str
    interval: str
    period_start: str
    period_end: str
    seed: int
    model: dict
    cells: list = field(default_factory=list)


def plan_sweep(spec, sources, broker):
    """The configs, cells and walk-forwards of a sweep.

    Args:
        spec: a `SweepSpec`.
        sources: (symbol, interval, kline frame) per data source, in the spec's order.
        broker: the broker settings every cell runs with.

    Returns:
        (configs as {"model": ..., "trading": ...}, `Cell`s ordered by config, symbol, period,
        seed, `TrainingTask`s).
    """
    models, tradings = spec.model_configs(), spec.trading_configs()
    configs = [{"model": model, "trading": trading} for model in models for trading in tradings]
    walks, cells = {}, []
    for number, config in enumerate(configs):
        for symbol, interval, frame in sources:
            for start, end in spec.periods:
                for seed in spec.seeds:
                    where = (symbol, interval, start, end, seed)
                    walk = walks.get((*where, repr(config["model"])))
                    if walk is None:
                        walk = TrainingTask("", *where, model=config["model"])
                        walk.key = walk_key(bars_for(frame, walk), walk)
                        walks[(*where, repr(config["model"]))] = walk
                    cell = Cell(_digest([walk.key, symbol, interval, config["trading"], broker]),
                                number, *where, model=config["model"],
                                trading=config["trading"])
                    cells.append(cell)
                    walk.cells.append(cell)
    return configs, cells, list(walks.values())


def bars_for(frame, walk):
    """The rows of `frame` a walk-forward can use: its warm-up history, then its period."""
    from .cell import required_history

    end = frame.index.searchsorted(pd.Timestamp(walk.period_end))
    first = frame.index.searchsorted(pd.Timestamp(walk.period_start))
    return frame.iloc[max(0, first - required_history(walk.model)):end]


def walk_key(bars, walk):
    """The forecast cache key of `walk` trained on `bars` (the `LSTMStrategy` it replays)."""
    from ..models import backend
    from ..run.forecast_cache import cache_key
    from ..run.runner import strategy_params
    from ..strategies import LSTMStrategy

    used = strategy_params(LSTMStrategy, walk.model)
    checked = LSTMStrategy.check_params(**used, seed=walk.seed)
    used = {name: checked[name] for name in used}
    return cache_key(bars, LSTMStrategy, used, walk.seed, walk.period_start,
                     backend.backend_name())


def _digest(value):
    text = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
