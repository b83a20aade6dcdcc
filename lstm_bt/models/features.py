"""Inputs and targets of the forecaster, and the way back to a price.

Two feature sets, chosen by name:

- `"returns"` (stationary): per bar, the log return of the close, the high/low range
  `log(high / low)`, the body `log(close / open)` and `log(1 + volume)`, each standardised with
  the mean and standard deviation of the training window (so the volume column is a z-score).
  The target is the next bar's log return, in the same standardised units.
- `"ohlc_minmax"` (the seeds' choice): open, high, low, close, each scaled to [0, 1] with the
  minimum and maximum of the training window; the target is the next close on the close's
  scale. Prices outside the training range are extrapolation, one reason it learns worse.

The scalers are scikit-learn's (`StandardScaler`, `MinMaxScaler`), fit on the training window
only; their offsets and scales are kept as plain arrays so they travel inside the `.keras` file.
Both take an `(n, 5)` OHLCV array and give `n - 1` feature rows: row i describes bar i + 1 (a
return needs the close before it), so both see exactly the same bars. `fit` sees only the
training window; `to_close` turns a model output into a price, whatever the target was.

Extra input columns (an indicator per bar, e.g. RSI) may follow volume: an `(n, 5 + k)` array.
They are appended to the feature rows as they are, row i taking bar i + 1's value, and scaled
like the set's own columns (z-score for `"returns"`, [0, 1] for `"ohlc_minmax"`) with the
statistics of the training window only. They must be finite: an indicator still warming up
(NaN) is refused.
"""


import numpy as np

from ..errors import InvalidParameter, did_you_mean

__all__ = ["FEATURE_SETS", "make_features", "ReturnFeatures", "MinMaxOHLCFeatures"]

OPEN, HIGH, LOW, CLOSE, VOLUME = range(5)
N_OHLCV = 5


class _Scaled:
    """Shared machinery: a per-column affine scaling learned by `fit`, kept as arrays."""

    name = None
    n_own_features = 4  # columns the set derives from OHLCV; extra input columns follow
    target_column = None  # the feature column whose next value is the target

    @property
    def n_features(self):
        """Columns of a feature row: the set's own, then one per extra input column."""
        return len(self.offset_)

    def _own_raw(self, bars):
        raise NotImplementedError

    def _raw(self, bars):
        own = self._own_raw(bars)
        return own if bars.shape[1] == N_OHLCV else np.column_stack([own, bars[1:, N_OHLCV:]])

    def fit(self, bars):
        """Learn the scaling from the bars of one training window; returns self."""
        raw = self._raw(_check_bars(bars))
        self.offset_, self.scale_ = self._learn(raw)
        return self

    def transform(self, bars):
        """Scaled feature rows, `(len(bars) - 1, n_features)`, float32."""
        bars = _check_bars(bars)
        extra = self.n_features - self.n_own_features
        if bars.shape[1] - N_OHLCV != extra:
            raise InvalidParameter(
                f"Received `bars` with {bars.shape[1] - N_OHLCV} extra input columns, expected "
                f"{extra} as when the features were fit; pass the same columns."
            )
        raw = self._raw(bars)
        return ((raw - self.offset_) / self.scale_).astype(np.float32)

    def targets(self, bars):
        """Scaled target value of each bar 1 .. n - 1 (the sample ending at j targets j + 1)."""
        return self.transform(bars)[:, self.target_column]

    def get_state(self):
        """The learned scaling as JSON-friendly lists."""
        return {"name": self.name, "offset": self.offset_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_state(cls, state):
        """Rebuild a fitted feature set from `get_state()` output."""
        features = FEATURE_SETS[state["name"]]()
        features.offset_ = np.asarray(state["offset"], dtype=np.float64)
        features.scale_ = np.asarray(state["scale"], dtype=np.float64)
        return features


class ReturnFeatures(_Scaled):
    """Stationary inputs (returns, range, body, log volume), next log return as target."""

    name = "returns"
    target_column = 0

    def _own_raw(self, bars):
        rows = bars[1:]
        return np.column_stack([
            np.log(rows[:, CLOSE] / bars[:-1, CLOSE]),
            np.log(rows[:, HIGH] / rows[:, LOW]),
            np.log(rows[:, CLOSE] / rows[:, OPEN]),
            # Feeds without volume deliver NaN; a constant column then carries no signal.
            np.log1p(_finite(rows[:, VOLUME])),
        ])

    @staticmethod
    def _learn(raw):
        from sklearn.preprocessing import StandardScaler

        # A constant column gets scale 1 (scikit-learn's rule), so it carries no signal.
        scaler = StandardScaler().fit(raw)
        return scaler.mean_, scaler.scale_

    def to_close(self, output, last_close):
        """Price implied by a scaled predicted log return, from the last close."""
        log_return = np.asarray(output, dtype=np.float64) * self.scale_[0] + self.offset_[0]
        return np.asarray(last_close, dtype=np.float64) * np.exp(log_return)


class MinMaxOHLCFeatures(_Scaled):
    """The seeds' inputs: OHLC scaled to [0, 1] on the training window; next close as target."""

    name = "ohlc_minmax"
    target_column = CLOSE

    def _own_raw(self, bars):
        return bars[1:, :VOLUME]

    @staticmethod
    def _learn(raw):
        from sklearn.preprocessing import MinMaxScaler

        scaler = MinMaxScaler().fit(raw)
        # data_range_ is 0 for a constant column; scale 1 then, as scikit-learn's own transform.
        return scaler.data_min_, np.where(scaler.data_range_ > 0, scaler.data_range_, 1.0)

    def to_close(self, output, last_close):
        """Price from a scaled predicted close (`last_close` is not needed, kept for symmetry)."""
        del last_close
        return np.asarray(output, dtype=np.float64) * self.scale_[CLOSE] + self.offset_[CLOSE]


FEATURE_SETS = {cls.name: cls for cls in (ReturnFeatures, MinMaxOHLCFeatures)}


def make_features(name):
    """A fresh, unfitted feature set by name; unknown names get a "Did you mean ...?"."""
    try:
        return FEATURE_SETS[name]()
    except (KeyError, TypeError):
        hint = did_you_mean(name, FEATURE_SETS, cutoff=0.5)
        raise InvalidParameter(
            f"Received an invalid value for `features`, expected one of "
            f"{', '.join(map(repr, FEATURE_SETS))}, got {name!r}.{hint}"
        ) from None


def _finite(values):
    """`np.nan_to_num(values)`, skipped (5 us of a forecast's 15 us of features) where every
    value is finite already."""
    return values if np.isfinite(values).all() else np.nan_to_num(values)


def _check_bars(bars):
    bars = np.asarray(bars, dtype=np.float64)
    if bars.ndim != 2 or bars.shape[1] < N_OHLCV or len(bars) < 2:
        raise InvalidParameter(
            f"Received invalid `bars`, expected an (n >= 2, 5 + k) array of open, high, low, "
            f"close, volume and k extra input columns, got shape {bars.shape}."
        )
    if bars.shape[1] > N_OHLCV and not np.isfinite(bars[1:, N_OHLCV:]).all():
        raise InvalidParameter(
            "Received extra input columns with NaN or infinite values, e.g. an indicator "
            "still in its warm-up; start the bars after the warm-up (LSTMStrategy: raise "
            "`input_warmup`)."
        )
    return bars
