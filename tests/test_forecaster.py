"""LSTMForecaster: scikit-learn conventions, real (tiny) Keras training, save/load, fast path."""

import numpy as np
import pytest

from lstm_bt.errors import InvalidParameter
from lstm_bt.models import LSTMForecaster, NotFittedError, make_features
from lstm_bt.models.forecaster import as_ohlcv
from lstm_bt.data.synthetic import ar1_returns

pytestmark = pytest.mark.slow

SEQ_LEN = 8


@pytest.fixture(scope="module")
def bars():
    return ar1_returns(400, phi=0.4, seed=5)


def tiny(**changes):
    params = dict(seq_len=SEQ_LEN, units=(4,), epochs=2, warm_epochs=1, batch_size=32,
                  learning_rate=0.01, seed=0)
    params.update(changes)
    return LSTMForecaster(**params)


@pytest.fixture(scope="module")
def fitted(bars):
    return tiny().fit(bars[:300])


def test_init_only_stores_its_arguments():
    forecaster = LSTMForecaster(epochs=-1, units="nonsense")
    assert forecaster.get_params()["epochs"] == -1
    assert not [name for name in vars(forecaster) if name.endswith("_")]


def test_fit_returns_self_and_learns_state_ending_in_underscore(bars):
    forecaster = tiny()
    assert forecaster.fit(bars[:200]) is forecaster
    learned = {name for name in vars(forecaster) if name.endswith("_")}
    assert {"model_", "features_", "history_", "layers_", "n_fits_"} <= learned
    assert len(forecaster.history_["loss"]) <= 2
    assert len(forecaster.history_["val_loss"]) == len(forecaster.history_["loss"])


def test_predict_gives_one_price_per_bar_with_enough_history(fitted, bars):
    window = bars[300:340]
    predicted = fitted.predict(window)
    assert predicted.shape == (40 - SEQ_LEN,)
    closes = window["close"].to_numpy()[SEQ_LEN:]
    # A one-bar-ahead forecast in price units stays near the close it starts from.
    assert np.all(np.abs(predicted / closes - 1) < 0.1)


def test_predict_next_reads_only_the_last_seq_len_plus_one_bars(fitted, bars):
    recent = bars[300:320]
    longer = bars[250:320]
    assert fitted.predict_next(recent) == fitted.predict_next(longer)
    assert fitted.predict_next(recent) == fitted.predict(recent)[-1]


def test_predicting_before_fit_raises_a_clear_error(bars):
    with pytest.raises(NotFittedError, match=r"not fitted yet. Call `fit\(bars\)`"):
        tiny().predict(bars[:50])


@pytest.mark.parametrize("units, dense_units, dropout", [
    ((4,), (), 0.0),
    ((6, 3), (), 0.2),
    ((5, 5), (4,), 0.1),
])
def test_numpy_forward_matches_keras_predict(bars, units, dense_units, dropout):
    forecaster = tiny(units=units, dense_units=dense_units, dropout=dropout).fit(bars[:200])
    fast = forecaster.predict(bars[200:260])
    keras_out = forecaster.predict(bars[200:260], engine="keras")
    np.testing.assert_allclose(fast, keras_out, rtol=1e-6)


def test_save_and_load_round_trip_forecasts_identically(fitted, bars, tmp_path):
    path = tmp_path / "model.keras"
    fitted.save(path)
    loaded = LSTMForecaster.load(path)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict(bars[300:]), fitted.predict(bars[300:]))
    np.testing.assert_allclose(loaded.predict(bars[300:], engine="keras"),
                               fitted.predict(bars[300:]), rtol=1e-6)


def test_save_refuses_a_name_without_keras_suffix(fitted, tmp_path):
    with pytest.raises(InvalidParameter, match=r"\.keras"):
        fitted.save(tmp_path / "model.h5")


@pytest.mark.parametrize("features", ["returns", "ohlc_minmax"])
def test_scaler_and_weights_are_fit_on_the_training_window_only(features):
    """A walk-forward model (fit by LSTMStrategy at one bar) learns its scaling from exactly
    its window, and neither the scaling nor the weights move when every bar before and after
    the window changes: a scaler or a fit that saw one bar more fails here."""
    from helpers.training_window import (OHLCV_COLUMNS, fit_once, outside_window_changed,
                                 weights, window_bars)

    frame = ar1_returns(120, phi=0.4, seed=5)
    model = fit_once(frame, features=features)
    changed = fit_once(outside_window_changed(frame), features=features)

    on_window = make_features(features).fit(window_bars(frame, OHLCV_COLUMNS))
    np.testing.assert_array_equal(model.model_.features_.offset_, on_window.offset_)
    np.testing.assert_array_equal(model.model_.features_.scale_, on_window.scale_)
    np.testing.assert_array_equal(changed.model_.features_.offset_, on_window.offset_)
    np.testing.assert_array_equal(changed.model_.features_.scale_, on_window.scale_)
    for trained, retrained in zip(weights(model), weights(changed), strict=True):
        np.testing.assert_array_equal(trained, retrained)
    # The change reached what the model reads after its window, so it was not ignored.
    assert (model.forecasts_frame()["predicted_close"].iloc[1:]
            != changed.forecasts_frame()["predicted_close"].iloc[1:]).all()


class _RecordingTraining:
    """Stands in for the forecaster's training loop to see the weights it starts from."""

    def __init__(self, model):
        self.model = model
        self.starts = []

    def __call__(self, inputs, targets, epochs):
        self.starts.append(self.model.get_weights())
        self.epochs = epochs
        return {"loss": [0.0], "val_loss": [0.0]}


@pytest.mark.parametrize("warm_start", [True, False])
def test_refit_keeps_the_compiled_model_and_starts_from_the_right_weights(
        bars, warm_start, monkeypatch):
    forecaster = tiny(warm_start=warm_start, epochs=3, warm_epochs=1).fit(bars[:200])
    model = forecaster.model_
    trained = model.get_weights()
    recorder = _RecordingTraining(model)
    monkeypatch.setattr(forecaster, "_train", recorder)
    forecaster.fit(bars[50:250])
    assert forecaster.model_ is model
    expected = trained if warm_start else forecaster.initial_state_[0]
    assert all(np.array_equal(a, b) for a, b in zip(recorder.starts[0], expected))
    assert recorder.epochs == (1 if warm_start else 3)
    assert forecaster.n_fits_ == 2


@pytest.mark.parametrize("change, name", [
    ({"epochs": 0}, "epochs"),
    ({"units": ()}, "units"),
    ({"dropout": 1.0}, "dropout"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"batch_size": 2.5}, "batch_size"),
])
def test_bad_params_raise_naming_the_param(bars, change, name):
    with pytest.raises(InvalidParameter, match=f"`{name}`"):
        tiny(**change).fit(bars[:100])


def test_misspelled_features_get_a_suggestion(bars):
    with pytest.raises(InvalidParameter, match="Did you mean 'returns'"):
        tiny(features="retruns").fit(bars[:100])


def test_too_few_bars_say_how_many_are_needed(bars):
    with pytest.raises(InvalidParameter, match=f"at least {SEQ_LEN + 4}"):
        tiny().fit(bars[:SEQ_LEN + 3])


@pytest.mark.parametrize("features", ["returns", "ohlc_minmax"])
def test_targets_map_back_to_the_next_close(bars, features):
    ohlcv = as_ohlcv(bars[:50])
    transform = make_features(features).fit(ohlcv)
    targets = transform.targets(ohlcv)  # row i is bar i + 1
    closes = ohlcv[:, 3]
    np.testing.assert_allclose(transform.to_close(targets[1:], closes[1:-1]), closes[2:],
                               rtol=1e-5)


def test_a_cold_refit_equals_a_fresh_forecasters_fit(bars):
    params = dict(epochs=2, dropout=0.2, warm_start=False, seed=3)
    refit = tiny(**params).fit(bars[:200]).fit(bars[100:300])
    fresh = tiny(**params).fit(bars[100:300])
    assert np.array_equal(refit.predict(bars[250:320]), fresh.predict(bars[250:320]))


def test_a_loaded_forecaster_refits_as_the_saved_one_would(bars, tmp_path):
    saved = tiny(dropout=0.2).fit(bars[:200])
    saved.save(tmp_path / "m.keras")
    loaded = LSTMForecaster.load(tmp_path / "m.keras")
    saved.fit(bars[50:250])
    loaded.fit(bars[50:250])
    assert np.array_equal(saved.predict(bars[200:300]), loaded.predict(bars[200:300]))


def test_the_epoch_loss_is_keras_sample_weighted_mean_of_the_batch_losses(bars):
    """With a negligible learning rate one epoch leaves the weights where they were, so the
    epoch's loss is the loss of those weights over every training sample; a plain mean of the
    batch losses (the last batch here has 28 samples, the others 48) would differ."""
    from lstm_bt.models import numpy_forward

    forecaster = tiny(epochs=1, learning_rate=1e-12, batch_size=48).fit(bars[:200])
    features = forecaster.features_
    inputs, targets = forecaster._samples(features.transform(as_ohlcv(bars[:200])),
                                          features.target_column)
    n_train = len(inputs) - int(len(inputs) * forecaster.validation_split)
    assert n_train % 48 == 28
    predicted = numpy_forward.forward(forecaster.layers_, inputs[:n_train])
    expected = np.mean((predicted - targets[:n_train]) ** 2)
    assert forecaster.history_["loss"] == pytest.approx([expected], rel=1e-5)


def test_early_stopping_stops_after_patience_and_restores_the_best_weights(bars):
    from lstm_bt.models.early_stopping import ValidationStopping

    fitted = tiny().fit(bars[:200])
    features = fitted.features_
    inputs, targets = fitted._samples(features.transform(as_ohlcv(bars[200:300])),
                                      features.target_column)
    model = fitted.model_
    best = model.get_weights()
    stopping = ValidationStopping(inputs.astype(np.float32), targets, patience=2)
    assert not stopping.epoch_end(model)
    model.set_weights([w * 3 for w in best])
    assert not stopping.epoch_end(model)
    model.set_weights([w * 5 for w in best])
    assert stopping.epoch_end(model)
    assert stopping.losses[0] < min(stopping.losses[1:])
    stopping.train_end(model)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), best, strict=True))
