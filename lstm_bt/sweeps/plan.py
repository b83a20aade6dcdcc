"""Plan a sweep: its configs, its cells, and the walk-forwards that compute them.

A **config** is one combination of the model and trading params; a **cell** is a config on
one symbol, period and seed. A **walk-forward** is what trains: one (symbol, period, model
params, seed). Every cell of the configs that share its model params replays its forecasts,
so a grid of 3 thresholds x 2 sizings trains once per (symbol, period, seed), not six times.
"""

import hashlib
import json
from dataclasses import dataclass, field

__all__ = ["Cell", "TrainingTask", "plan_sweep"]


@dataclass(frozen=True)
class Cell:
    """One backtest of the sweep.

    Attributes:
        key: a stable name for its result (a digest of everything that decides it).
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
    """One walk-forward to train (a Dask task) and the cells that replay it.

    Attributes:
        key: a stable name (digest of data, period, model params and seed).
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
        sources: (symbol, interval, data digest) per data source, in the spec's order.
        broker: the broker settings every cell runs with.

    Returns:
        (configs: list of {"model": ..., "trading": ...}, cells: list of `Cell` in the fixed
        order config, symbol, period, seed; walk-forwards: list of `TrainingTask`).
    """
    models, tradings = spec.model_configs(), spec.trading_configs()
    configs = [{"model": model, "trading": trading} for model in models for trading in tradings]
    walks = {}
    cells = []
    for number, config in enumerate(configs):
        for symbol, interval, digest in sources:
            for start, end in spec.periods:
                for seed in spec.seeds:
                    where = {"symbol": symbol, "interval": interval, "data": digest,
                             "period": [start, end], "seed": seed}
                    walk_key = _digest({**where, "model": config["model"]})
                    cell = Cell(key=_digest({**where, **config, "broker": broker}),
                                config=number, symbol=symbol, interval=interval,
                                period_start=start, period_end=end, seed=seed,
                                model=config["model"], trading=config["trading"])
                    cells.append(cell)
                    walk = walks.get(walk_key)
                    if walk is None:
                        walk = walks[walk_key] = TrainingTask(
                            key=walk_key, symbol=symbol, interval=interval,
                            period_start=start, period_end=end, seed=seed,
                            model=config["model"])
                    walk.cells.append(cell)
    return configs, cells, list(walks.values())


def _digest(value):
    text = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
