"""`LSTMForecaster`: a Keras LSTM that forecasts the next close, in scikit-learn style.

`fit` learns the feature scaling and the weights from the bars it is given and nothing else.
A later `fit` keeps the compiled model: warm, it continues from the weights; cold, it puts back
the initial ones. Forecasts run the trained weights through `numpy_forward`, or under JAX
through the jitted model.
"""

import dataclasses
import json
import logging
import zipfile

import numpy as np

from ..errors import InvalidParameter, check_int
from . import jax_programs, numpy_forward, training_steps
from .backend import backend_name, configure
from .keras_state import keras_in_use
from .early_stopping import ValidationStopping
from .features import FEATURE_SETS, make_features

__all__ = ["LSTMForecaster", "NotFittedError", "as_ohlcv"]

logger = logging.getLogger(__name__)

OHLCV = ("open", "high", "low", "close", "volume")
# The largest seed every backend accepts (NumPy's and TensorFlow's seeds are 32-bit).
MAX_SEED = 2**32 - 1
# Far beyond what a bar series can train, below what the backends fail to build.
MAX_LAYER_WIDTH = 4096
LAYER_WIDTHS = {"units": 1, "dense_units": 0}
_STATE_ENTRY = "lstm_bt_forecaster.json"


class NotFittedError(InvalidParameter):
    """A forecaster was asked to forecast before `fit` was called."""


def as_ohlcv(bars):
    """OHLCV of a frame, or an array as given, as float64."""
    if hasattr(bars, "columns"):
        missing = [name for name in OHLCV if name not in bars.columns]
        if missing:
            raise InvalidParameter(
                f"Received `bars` without the columns {missing}; expected a kline frame with "
                f"{', '.join(OHLCV)}."
            )
        bars = bars[list(OHLCV)].to_numpy()
    return np.asarray(bars, dtype=np.float64)


@dataclasses.dataclass(eq=False)
class LSTMForecaster:
    """Forecasts the next bar's close from the last `seq_len` bars with a Keras LSTM.

    Args:
        seq_len: bars in one input sequence. Defaults to `60`.
        units: LSTM layer widths, e.g. `(64,)`, `(64, 32)`; at least one, each from 1 to
            4096. Defaults to `(32,)`.
        dense_units: relu Dense layers' widths between the last LSTM and the output, e.g.
            `(25,)`; each from 1 to 4096. Defaults to `()`.
        dropout: dropout rate after each LSTM layer, in [0, 1). Defaults to `0.0`.
        learning_rate: Adam learning rate. Defaults to `0.001`.
        batch_size: samples per gradient step. Defaults to `128`.
        epochs: maximum epochs of a cold fit. Defaults to `20`.
        warm_start: when `fit` is called again, continue from the previous weights for
            `warm_epochs` instead of starting over. Defaults to `True`.
        warm_epochs: maximum epochs of a warm fit, at most `epochs` (a larger value becomes
            `epochs` when `fit` validates the params). Defaults to `3`.
        patience: epochs without a better validation loss before training stops (the best
            weights are kept); 0 turns early stopping off. Defaults to `3`.
        validation_split: share of the most recent samples held out for early stopping
            (chronological, never shuffled in); 0 trains on everything. Defaults to `0.1`.
        features: `"returns"` (stationary) or `"ohlc_minmax"` (the seeds'); see `features`.
            Defaults to `"returns"`.
        seed: seeds the weights, the order of training samples and dropout, through the
            forecaster's own generators (never Python's, NumPy's or the backend's global
            random state), so a seed reproduces a fit in any thread or process; an integer
            in [0, 2**32). Defaults to `0`.
    """

    seq_len: int = 60
    units: tuple = (32,)
    dense_units: tuple = ()
    dropout: float = 0.0
    learning_rate: float = 0.001
    batch_size: int = 128
    epochs: int = 20
    warm_start: bool = True
    warm_epochs: int = 3
    patience: int = 3
    validation_split: float = 0.1
    features: str = "returns"
    seed: int = 0

    @classmethod
    def param_defaults(cls):
        """Every model param and its default, in order: the one declaration of them."""
        return {field.name: field.default for field in dataclasses.fields(cls)}

    def get_params(self, deep=True):
        """The constructor arguments (scikit-learn convention)."""
        del deep
        return {name: getattr(self, name) for name in self.param_defaults()}

    def _validate_params(self):
        """Raise `InvalidParameter` for the first argument that cannot work; normalize the rest."""
        for name in ("seq_len", "batch_size", "epochs", "warm_epochs"):
            setattr(self, name, check_int(name, getattr(self, name), low=1))
        # What runs is what is reported and keyed, so `--from` finds the same cache entry.
        self.warm_epochs = min(self.warm_epochs, self.epochs)
        self.patience = check_int("patience", self.patience)
        self.seed = check_int("seed", self.seed, high=MAX_SEED, meaning="e.g. 0")
        for name, fewest in LAYER_WIDTHS.items():
            setattr(self, name, _layer_widths(name, getattr(self, name), fewest))
        _fraction("dropout", self.dropout)
        _fraction("validation_split", self.validation_split)
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise InvalidParameter(
                f"Received an invalid value for `learning_rate`, expected a positive number, "
                f"got {self.learning_rate!r}."
            )
        make_features(self.features)

    def min_bars(self):
        """Fewest bars `fit` accepts: 2 training samples and, if asked, 1 held out."""
        return self.seq_len + 3 + (1 if self.validation_split else 0)

    def fit(self, bars):
        """Learn the feature scaling from `bars`, train the network on them; returns self.

        Args:
            bars: a kline frame or an `(n, 5 + k)` array, oldest first: OHLCV, then k extra input
                columns (e.g. an indicator), scaled on these bars like the rest.
        """
        self._validate_params()
        bars = as_ohlcv(bars)
        if len(bars) < self.min_bars():
            raise InvalidParameter(
                f"Received {len(bars)} bars for `fit`, expected at least {self.min_bars()} "
                f"(seq_len + 3, one more with a validation split). Pass more bars or lower "
                f"`seq_len`."
            )
        features = make_features(self.features).fit(bars)
        inputs, targets = self._samples(features.transform(bars), features.target_column)
        warm = self.warm_start and getattr(self, "model_", None) is not None
        with keras_in_use():
            if not warm and getattr(self, "initial_state_", None) is None:
                configure()
                self.random_ = np.random.default_rng(self.seed)
                self.model_ = self._build(features.n_features)
            elif not warm:
                self._reset_weights()
            epochs = self.warm_epochs if warm else self.epochs
            self.history_ = self._train(inputs, targets, epochs)
            self._read_weights()
        self.features_ = features
        self.n_fits_ = getattr(self, "n_fits_", 0) + 1
        logger.debug("fit %d (%s) on %d samples: loss %s", self.n_fits_,
                     "warm" if warm else "cold", len(inputs), self.history_["loss"][-1:])
        return self

    def predict(self, bars, engine="auto"):
        """Forecast the close after every bar that has `seq_len` bars before it.

        Args:
            bars: a kline frame or an `(n, 5 + k)` array, oldest first, with `fit`'s columns.
            engine: `"numpy"`, `"keras"` (`model.predict`), or `"auto"`: the backend's compiled pass
                where it is the cheaper one (JAX), else NumPy. Defaults to `"auto"`.
        """
        self._check_fitted()
        bars = as_ohlcv(bars)
        if len(bars) < self.seq_len + 1:
            raise InvalidParameter(
                f"Received {len(bars)} bars to forecast from, expected at least "
                f"seq_len + 1 = {self.seq_len + 1}."
            )
        outputs = self._forward(_windows(self.features_.transform(bars), self.seq_len), engine)
        return self.features_.to_close(outputs, bars[self.seq_len:, 3])

    def predict_next(self, bars):
        """The forecast of the close after the last of `bars`."""
        bars = as_ohlcv(bars)[-(self.seq_len + 1):]
        if len(bars) <= self.seq_len or getattr(self, "layers_", None) is None:
            return float(self.predict(bars)[-1])  # raises predict's error
        # Once a bar: the feature rows are the one sequence, no sliding windows needed.
        outputs = self._forward(self.features_.transform(bars)[None], "auto")
        return float(self.features_.to_close(outputs, bars[-1:, 3])[0])

    def _forward(self, sequences, engine):
        if engine == "auto" and self.compiled_forward_ is not None:
            with keras_in_use():  # a new input shape traces the model
                return self.compiled_forward_(sequences)
        if engine in ("numpy", "auto"):
            return numpy_forward.forward(self.layers_, sequences)
        if engine == "keras":
            with keras_in_use():
                return self.model_.predict(sequences, verbose=0)[:, 0]
        raise InvalidParameter(
            f"Received an invalid value for `engine`, expected 'auto', 'numpy' or 'keras', "
            f"got {engine!r}."
        )

    def save(self, path):
        """Write the model, its feature scaling and its arguments to one `.keras` file."""
        self._check_fitted()
        path = str(path)
        if not path.endswith(".keras"):
            raise InvalidParameter(
                f"Received an invalid value for `path`, expected a name ending in '.keras', "
                f"got {path!r}."
            )
        with keras_in_use():
            self.model_.save(path)
        state = {"params": self.get_params(), "features": self.features_.get_state(),
                 "history": self.history_, "n_fits": self.n_fits_,
                 "random_state": self.random_.bit_generator.state,
                 # Not saved by Keras; without it a warm refit drops other units.
                 "seed_states": [np.asarray(v.value).tolist() for v in _seed_variables(
                     self.model_)]}
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(_STATE_ENTRY, json.dumps(state))

    @classmethod
    def load(cls, path):
        """Read a forecaster written by `save`; it forecasts exactly as the saved one."""
        configure()
        import keras

        with zipfile.ZipFile(path) as archive:
            state = json.loads(archive.read(_STATE_ENTRY))
        params = state["params"]
        params["units"] = tuple(params["units"])
        params["dense_units"] = tuple(params["dense_units"])
        forecaster = cls(**params)
        forecaster.random_ = np.random.default_rng(forecaster.seed)
        if "random_state" in state:
            # A warm refit then orders samples as the saved one's next fit would.
            forecaster.random_.bit_generator.state = state["random_state"]
        with keras_in_use():
            forecaster.model_ = keras.saving.load_model(path)
            for variable, value in zip(_seed_variables(forecaster.model_),
                                       state.get("seed_states", [])):
                variable.assign(np.asarray(value, dtype=variable.dtype))
            forecaster._read_weights()
        forecaster.features_ = FEATURE_SETS[state["features"]["name"]].from_state(
            state["features"])
        forecaster.history_ = state["history"]
        forecaster.n_fits_ = state["n_fits"]
        # A cold refit of a loaded model builds afresh: its initial weights were not saved.
        forecaster.initial_state_ = None
        return forecaster

    def _read_weights(self):
        """Take the trained weights for forecasting, once per fit."""
        self.layers_ = numpy_forward.extract_layers(self.model_)
        self.compiled_forward_ = jax_programs.compiled_forward(self.model_, self._programs())

    def _check_fitted(self):
        if getattr(self, "layers_", None) is None:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call `fit(bars)` before "
                f"forecasting."
            )

    def _samples(self, rows, target_column):
        inputs = _windows(rows[:-1], self.seq_len)
        targets = rows[self.seq_len:, target_column]
        return inputs, targets

    def _build(self, n_features):
        import keras

        model = self._network(self.seq_len, n_features, self._draw_seed)
        # What a cold refit puts back, so that it equals a fresh forecaster's fit.
        self.initial_state_ = ([w.copy() for w in model.get_weights()],
                               [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables],
                               self.random_.bit_generator.state,
                               [(v, keras.ops.convert_to_numpy(v))
                                for v in _seed_variables(model)])
        return model

    def _network(self, seq_len, n_features, draw_seed):
        """The compiled model with its optimizer built; `draw_seed()` seeds each random part."""
        import keras

        init = keras.initializers
        stack = [keras.Input((seq_len, n_features))]
        for index, width in enumerate(self.units):
            stack.append(keras.layers.LSTM(
                width, return_sequences=index < len(self.units) - 1,
                kernel_initializer=init.GlorotUniform(seed=draw_seed()),
                recurrent_initializer=init.Orthogonal(seed=draw_seed()),
                seed=draw_seed()))
            if self.dropout:
                stack.append(keras.layers.Dropout(self.dropout, seed=draw_seed()))
        stack += [keras.layers.Dense(width, activation="relu",
                                     kernel_initializer=init.GlorotUniform(seed=draw_seed()))
                  for width in self.dense_units]
        stack.append(keras.layers.Dense(
            1, kernel_initializer=init.GlorotUniform(seed=draw_seed())))
        model = keras.Sequential(stack)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
        model.optimizer.build(model.trainable_variables)
        return model

    def _programs(self):
        """Under JAX, the jitted programs shared by this architecture's models; else None."""
        if backend_name() != "jax":
            return None
        held = getattr(self, "_jax_programs", None)
        if held is None or held[0] is not self.model_:
            from . import jax_programs

            seq_len, n_features = self.model_.input_shape[1:]
            # No seeds: they set initial values, which are variables, not code.
            key = (seq_len, n_features, tuple(self.units), tuple(self.dense_units),
                   float(self.dropout), float(self.learning_rate))
            held = self._jax_programs = (self.model_, jax_programs.shared(
                key, lambda: self._network(seq_len, n_features, lambda: 1), self.model_))
        return held[1]

    def _draw_seed(self):
        """A seed from our own generator, never from the global `random` other threads share."""
        return int(self.random_.integers(1, 2**31 - 1))

    def _reset_weights(self):
        weights, optimizer_values, random_state, seed_states = self.initial_state_
        self.model_.set_weights(weights)
        for variable, value in zip(self.model_.optimizer.variables, optimizer_values):
            variable.assign(value)
        for variable, value in seed_states:
            variable.assign(value)
        self.random_.bit_generator.state = random_state

    def _train(self, inputs, targets, epochs):
        """Train for up to `epochs` epochs; our own loop, as `model.fit` builds an input
        pipeline at every call.
        """
        n_val = int(len(inputs) * self.validation_split) if self.validation_split else 0
        if self.validation_split and n_val == 0:
            n_val = 1
        held_out = None
        if n_val:
            held_out = ValidationStopping(
                inputs[-n_val:].astype(np.float32), targets[-n_val:].astype(np.float64),
                self.patience)
            inputs, targets = inputs[:-n_val], targets[:-n_val]
        inputs, targets = inputs.astype(np.float32), targets.astype(np.float32)
        run_epoch = training_steps.epoch_runner(self.model_, self._programs())
        losses = []
        for _ in range(epochs):
            # A new order every epoch, as Keras' shuffle, but not from global random state.
            order = self.random_.permutation(len(inputs))
            batches = [order[start:start + self.batch_size]
                       for start in range(0, len(order), self.batch_size)]
            batch_losses = run_epoch(inputs, targets, batches)
            # Keras' epoch loss: batch losses weighted by their sizes.
            losses.append(float(np.average(batch_losses, weights=[len(b) for b in batches])))
            if held_out is not None and held_out.epoch_end(run_epoch):
                break
        if held_out is not None:
            held_out.train_end(run_epoch)
        run_epoch.finish()
        return {"loss": losses, "val_loss": held_out.losses if held_out else []}


def _seed_variables(model):
    """The dropout seed-generator variables, which `get_weights()` leaves out."""
    return [variable for variable in model.variables if "seed_generator" in variable.path]


def _windows(rows, seq_len):
    """All runs of `seq_len` consecutive rows, `(len(rows) - seq_len + 1, seq_len, features)`."""
    return np.lib.stride_tricks.sliding_window_view(rows, seq_len, axis=0).transpose(0, 2, 1)


def _layer_widths(name, widths, fewest=0):
    """`widths` as a tuple of at least `fewest` ints from 1 to `MAX_LAYER_WIDTH`."""
    if not isinstance(widths, (tuple, list)) or len(widths) < fewest:
        raise InvalidParameter(
            f"Received an invalid value for `{name}`, expected a tuple of positive integers"
            f"{' (at least one LSTM layer)' if fewest else ''}, e.g. (64,) or (64, 32), "
            f"got {widths!r}."
        )
    return tuple(check_int(name, width, low=1, high=MAX_LAYER_WIDTH,
                           meaning=f"each layer width in {widths!r}") for width in widths)


def _fraction(name, value):
    if not (isinstance(value, (int, float)) and 0 <= value < 1):
        raise InvalidParameter(
            f"Received an invalid value for `{name}`, expected a number in [0, 1), "
            f"got {value!r}."
        )
