"""No lookahead, at the bars where a leak hides: the fit bars.

A model fit at the close of bar t reads bars <= t only (DESIGN, "Rules that make results
honest"). A leak of one bar at fit time (the window ending at t + 1, the scaler refit on the
window plus bar t + 1) changes only the forecasts made with that model, so the perturbation
starts right at a fit bar k and right after one: bar k + 1 alone, or every bar after k, is
changed, and nothing at or before k may move.

The same test body runs over every "driver": a function that walks forward over a frame and
returns what it forecast (and, for the strategy, the signals, orders, fills and trades).
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from lstm_bt import run_backtest
from lstm_bt.models import LSTMForecaster, make_features
from lstm_bt.models.walk_forward import WalkForward
from lstm_bt.models.schedule import required_history
from lstm_bt.data.synthetic import random_walk
from test_lstm_strategy import Recording

SCHEDULE = dict(seq_len=4, train_window=40, retrain_every=40)
MODEL = dict(units=(2,), epochs=1, warm_epochs=1, batch_size=32, learning_rate=0.01)
FIRST = required_history(SCHEDULE["train_window"], SCHEDULE["seq_len"])  # 44: the first fit
SECOND_FIT = FIRST + SCHEDULE["retrain_every"]  # 84: a warm fit
PRICES = ["open", "high", "low", "close"]


@dataclass
class Outcome:
    """What one walk-forward produced. `forecasts` is indexed by the origin bar's datetime
    and has `predicted_close` (and `signal` where the driver trades); the lists are empty for
    a driver that does not trade."""

    forecasts: pd.DataFrame
    orders: list = field(default_factory=list)
    fills: list = field(default_factory=list)
    trades: pd.DataFrame = None


def strategy_driver(frame):
    """LSTMStrategy in a real cerebro, through `run_backtest` (no forecast cache)."""
    result = run_backtest(frame, symbol="WALK", strategy=Recording, cache=False, threshold=0.0,
                          **SCHEDULE, **MODEL)
    return Outcome(forecasts=result.forecasts, orders=result.strategy.placed(),
                   fills=result.strategy.fills(), trades=result.trades)


def walk_forward_driver(frame):
    """The standalone walk-forward, without backtrader (forecasts only).

    """
    predicted = WalkForward(**SCHEDULE, **MODEL, seed=0).run(
        frame, frame.index[FIRST])
    return Outcome(forecasts=predicted.set_index("datetime")[["close", "predicted_close"]])


# Every way of walking forward that must be future-blind. A new engine adds its driver here.
DRIVERS = [
    pytest.param(strategy_driver, id="strategy"),
    pytest.param(walk_forward_driver, id="walk_forward"),
]


@pytest.fixture(scope="module")
def walk():
    return random_walk(200, seed=3)


@pytest.fixture(scope="module", params=DRIVERS)
def driven(request, walk):
    """A driver and its outcome on the unperturbed walk, computed once per driver."""
    return request.param, request.param(walk)


def _perturbed(frame, k, how):
    """`frame` with bar k + 1 alone (`"next_bar"`) or every bar after k (`"every_bar_after"`)
    changed to prices 30 % higher and a different path."""
    changed = frame.copy()
    if how == "next_bar":
        changed.iloc[k + 1, changed.columns.get_indexer(PRICES)] *= 1.3
        changed.iloc[k + 1, changed.columns.get_loc("volume")] *= 3
        return changed
    other = random_walk(len(frame) - k - 1, seed=99, price=float(frame["close"].iloc[k]) * 1.3)
    changed.iloc[k + 1:] = other.to_numpy()
    return changed


@pytest.mark.slow
@pytest.mark.parametrize("k", [SECOND_FIT, SECOND_FIT + 1], ids=["k=fit_bar", "k=fit_bar+1"])
@pytest.mark.parametrize("how", ["next_bar", "every_bar_after"])
def test_changing_bars_after_k_changes_nothing_at_or_before_k(driven, k, how, walk):
    driver, before = driven
    after = driver(_perturbed(walk, k, how))
    cutoff = walk.index[k]

    upto = before.forecasts.index <= cutoff
    assert upto.sum() == k - FIRST + 1
    pd.testing.assert_frame_equal(before.forecasts[upto],
                                  after.forecasts[after.forecasts.index <= cutoff])
    assert [o for o in before.orders if o[0] <= cutoff] == \
        [o for o in after.orders if o[0] <= cutoff]
    assert [f for f in before.fills if f[0] <= cutoff] == \
        [f for f in after.fills if f[0] <= cutoff]
    if before.trades is not None:
        pd.testing.assert_frame_equal(
            before.trades[before.trades["close_datetime"] <= cutoff],
            after.trades[after.trades["close_datetime"] <= cutoff])
        assert any(o[0] <= cutoff for o in before.orders), "no order to compare before k"
    # The change did reach the forecast made at k + 1 (it reads bar k + 1), so the equality
    # above is no accident of a model that ignores its inputs.
    assert before.forecasts["predicted_close"].iloc[k + 1 - FIRST] != \
        after.forecasts["predicted_close"].iloc[k + 1 - FIRST]


def _index_encoded_bars(n, features):
    """Bars whose feature rows decode back to the bar number: for `"ohlc_minmax"` every
    price of bar j is 100 + j; for `"returns"` the close's log return into bar j is j / 1000
    (so the return column decodes to j)."""
    j = np.arange(n, dtype=np.float64)
    if features == "ohlc_minmax":
        close = 100.0 + j
    else:
        close = 100.0 * np.exp(np.cumsum(j / 1000.0))
    return np.column_stack([close, close * 1.01, close * 0.99, close, 1.0 + j])


@pytest.mark.parametrize("features", ["returns", "ohlc_minmax"])
def test_training_sample_i_reads_bars_before_j_and_targets_bar_j(features):
    """The fit path (`features.transform`, then `LSTMForecaster._samples`, the function `fit`
    turns scaled rows into Keras inputs and targets with) on bars that encode their own
    number: sample i reads bars j - seq_len .. j - 1 and its target is bar j."""
    seq_len, n = 5, 30
    bars = _index_encoded_bars(n, features)
    scaled = make_features(features).fit(bars)
    column = scaled.target_column
    inputs, targets = LSTMForecaster(seq_len=seq_len)._samples(scaled.transform(bars), column)

    def bar_number(value):
        raw = value * scaled.scale_[column] + scaled.offset_[column]
        return raw - 100.0 if features == "ohlc_minmax" else raw * 1000.0

    # Feature row r describes bar r + 1 (a return needs the close before it), so the first
    # sample reads bars 1 .. seq_len and targets bar seq_len + 1; the last targets bar n - 1.
    assert len(inputs) == len(targets) == n - 1 - seq_len
    for i in range(len(inputs)):
        j = seq_len + 1 + i
        np.testing.assert_allclose(bar_number(inputs[i, :, column]),
                                   np.arange(j - seq_len, j), atol=1e-3)
        assert bar_number(targets[i]) == pytest.approx(j, abs=1e-3)
