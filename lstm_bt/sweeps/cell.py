"""The one place a sweep touches the backtest engine: train a walk-forward, replay it.

The rest of `lstm_bt.sweeps` sees only these functions: another engine means editing this file.
"""

import time

import numpy as np

__all__ = ["train_forecasts", "replay", "required_history"]


def required_history(model_params):
    """Warm-up bars the first model of a walk-forward with `model_params` needs."""
    from ..models import WalkForward

    return WalkForward(**model_params).history_needed()


def train_forecasts(bars, model_params, seed):
    """Train one walk-forward over `bars`, without backtrader, and return its forecasts.

    Args:
        bars: a `BacktestData` (the measured bars with their warm-up history before `start`).
        model_params: `WalkForward` params (`seq_len`, `units`, ...), seed excluded.
        seed: the model seed.

    Returns:
        (predicted closes, a Series by bar open time; {"training_history": [...],
        "train_s": seconds fitting, "total_s": seconds in all, "retrains": fits}).
    """
    from ..models import WalkForward
    from ..models.keras_state import clear_session_unless_in_use

    began = time.perf_counter()
    # A worker runs walk-forward after walk-forward: drop what the last ones left, unless
    # another task thread of the worker is using Keras now (see the function).
    clear_session_unless_in_use()
    walk = WalkForward(**model_params, seed=seed)
    frame = walk.run(bars.frame, start=bars.start)
    return frame.set_index("datetime")["predicted_close"], {
        "training_history": walk.training_history,
        "train_s": walk.timing["train_s"],
        "retrains": walk.timing["retrains"],
        "total_s": time.perf_counter() - began,
    }


def replay(bars, forecasts, model_params, trading_params, broker):
    """Trade the forecasts of a trained walk-forward with one set of trading params.

    Args:
        bars: the `BacktestData` the forecasts were made on.
        forecasts: the Series `train_forecasts` returned.
        model_params: the walk-forward's params (recorded in the report; nothing trains).
        trading_params: strategy params that only turn forecasts into orders (`threshold`,
            `sizing`, ...); the rest take their defaults.
        broker: `cash`, `commission`, `slippage`.

    Returns:
        (report dict with `metrics`, `benchmark`, `forecast` and `timing`, per-bar simple
        returns of the portfolio from `start` as a float array, the first against the cash).
    """
    from ..run.runner import run_backtest
    from ..stats import simple_returns

    result = run_backtest(bars.frame, symbol=bars.symbol, interval=bars.interval,
                          start=bars.start, end=bars.end, forecasts=forecasts, cache=False,
                          **broker, **model_params, **trading_params)
    returns = simple_returns(result.equity["value"].to_numpy(dtype=np.float64), broker["cash"])
    return result.report, returns
