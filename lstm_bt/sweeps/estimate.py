"""How long a sweep takes: a rough cost model of one walk-forward, and `--dry-run`.

A walk-forward over `bars` traded bars fits `ceil(bars / retrain_every)` models: the first
cold (the network built, then up to `epochs` epochs; early stopping assumed at its earliest,
`patience` + 1 epochs, as it mostly stops on noisy returns), the rest warm (`warm_epochs`),
or cold again without `warm_start`. An epoch is `ceil(train samples / batch_size)` gradient
steps and one held-out pass; a step costs a fixed part, a part per timestep and LSTM layer
(the recurrence runs step by step) and a part per multiply-add (`batch_size x seq_len x` the
network's multiply-adds per timestep). Then one forecast a bar, and one replay a cell.

The constants are a least-squares fit of walk-forwards measured with TensorFlow, one thread
(a local worker's share of 2 cores), on the 2-core Intel Xeon the tests run on
(`benchmarks/bench_sweep_eta.py cost`). Another machine or backend moves every walk-forward
by roughly one factor, which is why the progress bar's ETA scales this model by the time the
finished walk-forwards took.
"""

import math
import textwrap
from dataclasses import dataclass, field

__all__ = ["walk_seconds", "traded_bars", "estimate_sweep", "SweepEstimate", "format_seconds"]

# One gradient step (`train_on_batch`): fixed, per timestep and LSTM layer, per multiply-add.
STEP_S = 1.35e-3
STEP_TIMESTEP_S = 0.10e-3
STEP_MAC_S = 0.07e-9
# Building the network and the first call of its step (once per walk-forward).
BUILD_S = 1.2
# One forecast a bar: fixed, and per multiply-add of the forward pass (`seq_len x` per step).
FORECAST_BAR_S = 0.6e-3
FORECAST_MAC_S = 0.6e-9
# One cell's replay through backtrader: fixed, and per bar.
REPLAY_S = 0.01
REPLAY_BAR_S = 0.13e-3
# Cutting a walk-forward's bars and the rest of its fixed work.
WALK_S = 0.1
# A local worker process starting: Python, the package and the Keras backend imported (two
# at once on 2 cores).
PROCESS_START_S = 7.0
# Writing the report (tables, statistics, plots, report.html): 9 s for 96 cells.
REPORT_S = 9.0

HOW = ("a rough estimate from a cost model of each walk-forward (gradient steps x network size, "
       "early stopping assumed after patience + 1 epochs, one forecast a bar, one replay a "
       "cell), its constants measured with TensorFlow, one thread per worker, on a 2-core "
       "Intel Xeon; another machine or backend can be several times faster or slower. The "
       "progress bar's ETA, scaled by the walk-forwards done, is closer.")


def walk_seconds(model, bars, cells=1):
    """The cost model's seconds for one walk-forward with `model` params over `bars` traded
    bars, replayed by `cells` cells (one worker thread, see the module)."""
    from ..models import WalkForward
    from ..models.features import FEATURE_SETS

    p = {**WalkForward.param_defaults(), **model}
    if bars <= 0:
        return WALK_S
    fits = math.ceil(bars / p["retrain_every"])
    n_val = max(1, int(p["train_window"] * p["validation_split"])) if p["validation_split"] else 0
    steps = math.ceil((p["train_window"] - n_val) / p["batch_size"]) + (1 if n_val else 0)
    widths, inputs, macs = list(p["units"]), FEATURE_SETS[p["features"]].n_own_features, 0
    for width in widths:
        macs += 4 * width * (width + inputs)  # an LSTM layer's four gates, per timestep
        inputs = width
    dense = sum(a * b for a, b in zip([inputs, *p["dense_units"]], [*p["dense_units"], 1]))
    step = (STEP_S + STEP_TIMESTEP_S * p["seq_len"] * len(widths)
            + STEP_MAC_S * p["batch_size"] * (p["seq_len"] * macs + dense))
    stops = bool(n_val and p["patience"])
    cold = min(p["epochs"], p["patience"] + 1) if stops else p["epochs"]
    warm = min(p["warm_epochs"], p["epochs"])
    warm = min(warm, p["patience"] + 1) if stops else warm
    epochs = cold + (fits - 1) * (warm if p["warm_start"] else cold)
    forecast = bars * (FORECAST_BAR_S + FORECAST_MAC_S * p["seq_len"] * macs)
    replay = cells * (REPLAY_S + REPLAY_BAR_S * bars)
    return WALK_S + BUILD_S + epochs * steps * step + forecast + replay


def traded_bars(frame, walk):
    """The bars `walk` trades in `frame` (its bars from `plan.bars_for`): from its start on."""
    import pandas as pd

    return len(frame) - int(frame.index.searchsorted(pd.Timestamp(walk.period_start)))


def format_seconds(seconds):
    """`2 h 05 min`, `3 min 20 s`, `12 s`: a duration for people."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@dataclass
class SweepEstimate:
    """What a spec makes and how long it would take, without running it.

    Attributes:
        n_configs, n_model_configs, n_trading_configs, n_cells, n_walk_forwards: counts.
        sources: the symbols (or files) and periods, as `(name, start, end, bars)`.
        by_model: `(model params, seconds per walk-forward summed over its sources, fits)`.
        walk_s: the cost model's seconds of all walk-forwards, one after another.
        workers: the worker slots the estimate divides by (None: a Dask cluster's).
        total_s: the estimated wall time (None with a Dask cluster).
    """

    spec: object
    n_configs: int
    n_model_configs: int
    n_trading_configs: int
    n_cells: int
    n_walk_forwards: int
    sources: list
    by_model: list = field(default_factory=list)
    walk_s: float = 0.0
    workers: int = None
    total_s: float = None

    def describe(self, name="the spec"):
        """The dry run in plain words (what `lstm-bt sweep SPEC --dry-run` prints)."""
        spec = self.spec
        kind, where = "symbol" if spec.symbols else "file", spec.data_grid()
        lines = [
            f"Dry run of {name}: nothing runs, nothing is written.",
            f"configs: {self.n_configs:,} ({self.n_model_configs:,} model x "
            f"{self.n_trading_configs:,} trading), the trials N of DSR and PBO",
            f"cells: {self.n_cells:,} = {self.n_configs:,} configs x {where}",
            f"walk-forwards: {self.n_walk_forwards:,} = {self.n_model_configs:,} model "
            f"configs x {where} (each trains once; its {self.n_trading_configs:,} trading "
            f"config{'s' * (self.n_trading_configs != 1)} replay it)",
        ]
        swept = {**spec.model, **spec.trading}
        if spec.swept:
            lines.append("swept: " + "; ".join(
                f"{name} {', '.join(_shown(v) for v in swept[name])}" for name in spec.swept))
        counts = [bars for *_, bars in self.sources]
        if len(self.sources) <= 8:
            lines.extend(f"bars traded: {source} {start} to {end}: {bars:,}"
                         for source, start, end, bars in self.sources)
        else:
            lines.append(f"bars traded: {min(counts):,} to {max(counts):,} a walk-forward "
                         f"({len(counts):,} {kind}-periods)")
        if self.total_s is not None:
            lines.append(f"estimated time: {format_seconds(self.total_s)} on {self.workers} "
                         f"worker{'s' * (self.workers != 1)} ({format_seconds(self.walk_s)} "
                         f"of walk-forwards one after another)")
        else:
            lines.append(f"estimated time: {format_seconds(self.walk_s)} of walk-forwards one "
                         "after another; divide by the cluster's worker threads")
        shown = self.by_model[:20]
        for model, seconds, fits in shown:
            label = ", ".join(f"{k} {_shown(v)}" for k, v in model.items()
                              if len(spec.model.get(k, ())) > 1) or "the model"
            lines.append(f"  {label}: {format_seconds(seconds)} a seed over every "
                         f"{kind} and period ({fits:,} fits)")
        if len(self.by_model) > len(shown):
            lines.append(f"  ... and {len(self.by_model) - len(shown):,} more model configs")
        lines.append(textwrap.fill(f"How: {HOW}", width=100, subsequent_indent="  "))
        return "\n".join(lines)


def estimate_sweep(spec, workers=None, scheduler=None, max_cells=None):
    """What `lstm-bt sweep SPEC --dry-run` prints: the spec's configs, cells and walk-forwards
    and a rough estimate of the time; runs nothing, writes nothing, asks no server.

    Symbols count their bars from each period's length and the interval; files are read (they
    are local) and count their bars in each period.

    Args:
        spec: a path to a TOML spec, or a dict of its tables.
        workers: local worker processes the estimate divides by. Defaults to `None`: the
            usable cores.
        scheduler: a Dask scheduler's address: the estimate is not divided (the cluster is
            not asked its size). Defaults to `None`.
        max_cells: as in `sweep`. Defaults to `None`: `spec.MAX_CELLS` (100,000).

    Returns:
        A `SweepEstimate` (`describe()` is the text).
    """
    from ..models.backend import usable_cores
    from . import _check_target
    from .spec import load_spec

    workers = _check_target(None, workers, scheduler)
    checked = load_spec(spec, max_cells=max_cells)
    sources = _source_bars(checked)
    trading = checked.n_trading_configs
    by_model, total_walk = [], 0.0
    for model in checked.model_configs():
        seconds = sum(walk_seconds(model, bars, trading) for _, _, _, bars in sources)
        fits = sum(math.ceil(bars / _param(model, "retrain_every")) for *_, bars in sources)
        by_model.append((model, seconds, fits))
        total_walk += seconds * len(checked.seeds)
    estimate = SweepEstimate(
        spec=checked, n_configs=checked.n_configs, n_model_configs=checked.n_model_configs,
        n_trading_configs=trading, n_cells=checked.n_cells,
        n_walk_forwards=checked.n_model_configs * len(sources) * len(checked.seeds),
        sources=sources, by_model=by_model, walk_s=total_walk)
    if scheduler is None:
        estimate.workers = min(workers or usable_cores(), max(1, estimate.n_walk_forwards))
        estimate.total_s = PROCESS_START_S + total_walk / estimate.workers + REPORT_S
    return estimate


def _param(model, name):
    from ..models import WalkForward

    return model.get(name, WalkForward.param_defaults()[name])


def _source_bars(spec):
    """`(symbol or file, start, end, traded bars)` for every source and period."""
    from ..data.dates import parse_date, to_ms
    from ..data.intervals import get_interval

    rows = []
    if spec.symbols:
        step = get_interval(spec.interval)
        bar_ms = step.ms or (step.shortest_ms + step.longest_ms) / 2
        for symbol in spec.symbols:
            for start, end in spec.periods:
                span = to_ms(parse_date(end)) - to_ms(parse_date(start))
                rows.append((symbol, start, end, math.ceil(span / bar_ms)))
        return rows
    import pandas as pd

    from ..run.backtest_data import load_backtest_data

    for path in spec.files:
        frame = load_backtest_data(path, interval=spec.interval).frame
        for start, end in spec.periods:
            first, stop = frame.index.searchsorted([pd.Timestamp(start), pd.Timestamp(end)])
            rows.append((path, start, end, int(stop - first)))
    return rows


def _shown(value):
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, tuple) else str(value)
