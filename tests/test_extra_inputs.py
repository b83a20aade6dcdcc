"""Extra model inputs: `LSTMStrategy.extra_inputs()` lines reach the network, scaled on the
training window, read identically in training and forecasting, and never from the future."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from lstm_bt.cli.strategy_flags import load_strategy_class
from lstm_bt.errors import InvalidParameter
from lstm_bt.models import LSTMForecaster
from lstm_bt.strategies import LSTMStrategy
from lstm_bt.data.synthetic import random_walk
from test_lstm_strategy import TINY, Recording, hit_rate, run

RsiMacdInputs = load_strategy_class("strategies/rsi_macd.py", LSTMStrategy)


class RsiMacdRecording(RsiMacdInputs, Recording):
    """The example strategy, keeping its orders like `Recording`."""


class ReadsOpenInterest(LSTMStrategy):
    """Feeds the `openinterest` line, where the tests hide a signal OHLCV does not carry."""

    def extra_inputs(self):
        return (self.data.openinterest,)


def hinted_walk(bars=600, seed=5):
    """A random walk whose next return follows the sign of a hint published at each bar.

    The hint (column `openinterest`) is independent of every price before it, so OHLCV alone
    cannot forecast the walk; with the hint as an input the direction is learnable.
    """
    rng = np.random.default_rng(seed)
    hint = rng.standard_normal(bars)
    returns = np.empty(bars)
    returns[0] = 0.0
    returns[1:] = 0.004 * np.sign(hint[:-1]) + 0.001 * rng.standard_normal(bars - 1)
    frame = random_walk(bars, seed=seed).copy()
    close = 100.0 * np.exp(np.cumsum(returns))
    frame["open"] = np.r_[close[0], close[:-1]]
    frame["close"] = close
    frame["high"] = np.maximum(frame["open"], close) * 1.001
    frame["low"] = np.minimum(frame["open"], close) * 0.999
    frame["openinterest"] = hint
    return frame


HINTED = dict(seq_len=4, train_window=200, retrain_every=400, units=(8,), epochs=15,
              batch_size=32, learning_rate=0.01)


@pytest.mark.slow
def test_an_informative_extra_input_gives_skill_that_ohlcv_lacks():
    frame = hinted_walk()
    plain = run(frame, strategy=LSTMStrategy, **HINTED)
    hinted = run(frame, strategy=ReadsOpenInterest, **HINTED)

    assert plain.model_.features_.n_features == 4
    assert hinted.model_.features_.n_features == 5
    hits, n = hit_rate(hinted.forecasts_frame())
    assert n > 350
    assert binomtest(hits, n, alternative="greater").pvalue < 1e-6
    plain_hits, plain_n = hit_rate(plain.forecasts_frame())
    assert binomtest(plain_hits, plain_n, alternative="greater").pvalue > 0.01


@pytest.fixture(scope="module")
def walk():
    return random_walk(400, seed=11)


@pytest.fixture(scope="module")
def example_run(walk):
    return run(walk, strategy=RsiMacdRecording, **TINY)


@pytest.mark.slow
def test_the_rsi_macd_example_feeds_three_columns_after_their_warm_up(walk, example_run):
    assert example_run.model_.features_.n_features == 4 + 3
    frame = example_run.forecasts_frame()
    # The first window starts after the MACD signal's 33 warm-up bars: 120 + 8 + 33.
    assert frame["datetime"].iloc[0] == walk.index[161]
    assert np.isfinite(frame["predicted_close"]).all()


@pytest.mark.slow
def test_perturbing_bars_after_k_changes_nothing_at_or_before_k_with_indicator_inputs(
        walk, example_run):
    k = 250  # fits at 161, 221, 281, 341
    other = random_walk(len(walk) - k - 1, seed=99, price=float(walk["close"].iloc[k]) * 1.3)
    perturbed = walk.copy()
    perturbed.iloc[k + 1:] = other.to_numpy()
    cutoff = walk.index[k].to_pydatetime()

    again = run(perturbed, strategy=RsiMacdRecording, **TINY)

    before, after = example_run.forecasts_frame(), again.forecasts_frame()
    upto = before["datetime"] <= cutoff
    assert upto.sum() > 80
    pd.testing.assert_frame_equal(before[upto], after[after["datetime"] <= cutoff])
    assert example_run.placed(cutoff) == again.placed(cutoff)
    assert not np.allclose(before["predicted_close"][~upto], after["predicted_close"][~upto])


def test_too_little_history_for_the_indicator_warm_up_names_input_warmup(walk):
    forecasts = pd.Series(walk["close"].to_numpy(), index=walk.index)
    with pytest.raises(InvalidParameter, match=r"train_window \+ seq_len \+ input_warmup = "
                                               r"120 \+ 8 \+ 33 = 161 bars.*there are 150"):
        run(walk, strategy=RsiMacdRecording, start=walk.index[150], **TINY)
    # The replay (forecast cache) trains nothing, so it needs no history.
    replayed = run(walk, strategy=RsiMacdRecording, forecasts=forecasts, start=walk.index[150],
                   **TINY)
    assert len(replayed.forecasts_frame()) == 250


def test_a_lower_declared_warm_up_than_the_lines_need_is_raised_to_theirs(walk):
    with pytest.raises(InvalidParameter, match=r"= 161 bars.*Set input_warmup=33"):
        run(walk, strategy=RsiMacdRecording, input_warmup=10, start=walk.index[150], **TINY)


@pytest.fixture(scope="module")
def bars_with_extra():
    frame = hinted_walk(160, seed=2)
    return frame[["open", "high", "low", "close", "volume", "openinterest"]].to_numpy()


@pytest.mark.slow
@pytest.mark.parametrize("features", ["returns", "ohlc_minmax"])
def test_forecaster_with_extra_columns_saves_and_loads(bars_with_extra, tmp_path, features):
    model = LSTMForecaster(seq_len=5, units=(4,), epochs=2, features=features, seed=0)
    model.fit(bars_with_extra[:120])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = LSTMForecaster.load(path)

    assert loaded.features_.n_features == 5
    np.testing.assert_array_equal(loaded.predict(bars_with_extra),
                                  model.predict(bars_with_extra))
    np.testing.assert_allclose(model.predict(bars_with_extra),
                               model.predict(bars_with_extra, engine="keras"), rtol=1e-5)
    with pytest.raises(InvalidParameter, match="0 extra input columns, expected 1"):
        loaded.predict(bars_with_extra[:, :5])


@pytest.mark.slow
def test_extra_columns_are_scaled_on_the_training_window_only():
    """The extra input's scaling comes from exactly the walk-forward model's window (fit by
    the strategy at one bar), and changing every bar before and after the window moves
    neither the scaling nor the weights."""
    from helpers.training_window import WINDOW, fit_once, outside_window_changed, weights

    frame = hinted_walk(120, seed=2)
    model = fit_once(frame, strategy=ReadsOpenInterest)
    changed = fit_once(outside_window_changed(frame), strategy=ReadsOpenInterest)

    # Feature row r describes bar r + 1 of the window: the hint of its first bar is not used.
    hint = frame["openinterest"].to_numpy()[WINDOW.train_start + 1:WINDOW.train_stop]
    for strategy in (model, changed):
        assert strategy.model_.features_.offset_[4] == pytest.approx(hint.mean(), rel=1e-12)
        assert strategy.model_.features_.scale_[4] == pytest.approx(hint.std(), rel=1e-12)
    np.testing.assert_array_equal(model.model_.features_.offset_,
                                  changed.model_.features_.offset_)
    for trained, retrained in zip(weights(model), weights(changed), strict=True):
        np.testing.assert_array_equal(trained, retrained)


def test_extra_columns_still_warming_up_are_refused(bars_with_extra):
    from lstm_bt.models import make_features

    warming = bars_with_extra.copy()
    warming[:10, 5] = np.nan
    with pytest.raises(InvalidParameter, match="NaN or infinite.*warm-up.*`input_warmup`"):
        make_features("returns").fit(warming)
