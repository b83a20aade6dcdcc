"""The one place a sweep touches the backtest engine: train a walk-forward, replay it.

Everything else in `lstm_bt.sweep` sees only these two functions, so pointing the sweep at
another engine means editing this file alone.

- `train_forecasts(bars, model_params, seed)`: run the walk-forward once (it trains), return
  its predicted closes and its training history and timing.
- `replay(bars, forecasts, trading_params, broker)`: trade those forecasts with one set of
  trading params and broker settings (no training), return the report and per-bar returns.

Today both go through `run_backtest`'s cerebro: training is a backtest with the default
trading params whose forecasts are kept; a replay is a backtest whose strategy gets them as
its `forecasts` param (the forecast cache's mechanism).
"""

import time

import numpy as np

__all__ = ["train_forecasts", "replay", "required_history"]


def required_history(model_params):
    """Warm-up bars the first model of a walk-forward with `model_params` needs."""
    from ..models.schedule import required_history as history
    from ..runner import strategy_params
    from ..strategies import LSTMStrategy

    used = strategy_params(LSTMStrategy, model_params)
    return history(used["train_window"], used["seq_len"]) + (used["input_warmup"] or 0)


def train_forecasts(bars, model_params, seed):
    """Train one walk-forward over `bars` and return its forecasts.

    Args:
        bars: a `BacktestData` (the measured bars with their warm-up history before `start`).
        model_params: strategy params that change forecasts (`seq_len`, `units`, ...).
        seed: the model seed.

    Returns:
        (predicted close per tradable bar as a Series indexed by bar open time,
        {"training_history": [...], "train_s": seconds fitting, "total_s": seconds in all,
        "retrains": fits}).
    """
    import keras

    from ..runner import run_backtest

    began = time.perf_counter()
    # A worker runs walk-forward after walk-forward: drop the Keras models and graphs the
    # last one left (about 8 MB a tiny walk-forward, measured; half of it goes with this).
    keras.backend.clear_session(free_memory=True)
    result = run_backtest(bars.frame, symbol=bars.symbol, interval=bars.interval,
                          start=bars.start, end=bars.end, seed=seed, cache=False,
                          **model_params)
    frame = result.strategy.forecasts_frame().set_index("datetime")
    timing = result.strategy.timing
    return frame["predicted_close"], {
        "training_history": result.training,
        "train_s": timing["train_s"],
        "retrains": timing["retrains"],
        "total_s": time.perf_counter() - began,
    }


def replay(bars, forecasts, trading_params, broker):
    """Trade the forecasts of a trained walk-forward with one set of trading params.

    Args:
        bars: the `BacktestData` the forecasts were made on.
        forecasts: the Series `train_forecasts` returned.
        trading_params: strategy params that only turn forecasts into orders (`threshold`,
            `sizing`, ...); the rest take their defaults.
        broker: `cash`, `commission`, `slippage`.

    Returns:
        (report dict with `metrics`, `benchmark`, `forecast` and `timing`, per-bar simple
        returns of the portfolio from `start` as a float array, the first against the cash).
    """
    from ..runner import _broker_params, _run_cerebro, build_result, strategy_params
    from ..stats import simple_returns
    from ..strategies import LSTMStrategy

    began = time.perf_counter()
    used = strategy_params(LSTMStrategy, trading_params)
    LSTMStrategy.check_params(**used)
    broker = _broker_params(**broker)
    strategy = _run_cerebro(bars, LSTMStrategy, used, broker, seed=0, quiet=True,
                            forecasts=forecasts)
    head = {"data": bars.describe(), "params": {**used, **broker}}
    result = build_result(strategy, head, total_s=time.perf_counter() - began)
    returns = simple_returns(result.equity["value"].to_numpy(dtype=np.float64), broker["cash"])
    return result.report, returns
