"""The forecaster's inputs and target, scaled on the training window, and the way back to a price.

- `"returns"`: log return of the close, `log(high / low)`, `log(close / open)` and
  `log(1 + volume)`, standardised; the target is the next log return.
- `"ohlc_minmax"`: open, high, low, close scaled to [0, 1]; the target is the next close.

`(n, 5 + k)` bars (OHLCV and k finite extra inputs, scaled alike) give `n - 1` feature rows.
"""


import numpy as np

from ..errors import InvalidParameter, did_you_mean

__all__ = ["FEATURE_SETS", "make_features", "ReturnFeatures", "MinMaxOHLCFeatures"]

OPEN, HIGH, LOW, CLOSE, VOLUME = range(5)
N_OHLCV = 5


class _Scaled:
    """A per-column affine scaling learned by `fit`, kept as arrays (they travel in `.keras`)."""

    name = None
    n_own_features = 4  # columns the set derives from OHLCV; extra input columns follow
    target_column = None  # the feature column whose next value is the target

    @property
    def n_features(self):
        return len(self.offset_)

    def _own_raw(self, bars):
        raise NotImplementedError

    def _raw(self, bars):
        own = self._own_raw(bars)
        return own if bars.shape[1] == N_OHLCV else np.column_stack([own, bars[1:, N_OHLCV:]])

    def fit(self, bars):
        """Learn the scaling from one training window's bars; returns self."""
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
        """The scaled target of each bar 1 .. n - 1."""
        return self.transform(bars)[:, self.target_column]

    def get_state(self):
        """The learned scaling as JSON lists."""
        return {"name": self.name, "offset": self.offset_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_state(cls, state):
        """A fitted feature set from `get_state()`."""
        features = FEATURE_SETS[state["name"]]()
        features.offset_ = np.asarray(state["offset"], dtype=np.float64)
        features.scale_ = np.asarray(state["scale"], dtype=np.float64)
        return features


class ReturnFeatures(_Scaled):
    """Returns, range, body and log volume as inputs; the next log return as target."""

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
        """The price a scaled log return implies, from the last close."""
        log_return = np.asarray(output, dtype=np.float64) * self.scale_[0] + self.offset_[0]
        return np.asarray(last_close, dtype=np.float64) * np.exp(log_return)


class MinMaxOHLCFeatures(_Scaled):
    """OHLC scaled to [0, 1] on the training window; the next close as target."""

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
        """The price of a scaled close."""
        del last_close
        return np.asarray(output, dtype=np.float64) * self.scale_[CLOSE] + self.offset_[CLOSE]


FEATURE_SETS = {cls.name: cls for cls in (ReturnFeatures, MinMaxOHLCFeatures)}


def make_features(name):
    """A fresh feature set by name; an unknown name gets a "Did you mean ...?"."""
    try:
        return FEATURE_SETS[name]()
    except (KeyError, TypeError):
        hint = did_you_mean(name, FEATURE_SETS, cutoff=0.5)
        raise InvalidParameter(
            f"Received an invalid value for `features`, expected one of "
            f"{', '.join(map(repr, FEATURE_SETS))}, got {name!r}.{hint}"
        ) from None


def _finite(values):
    """`np.nan_to_num(values)`, skipped where every value is finite (once a forecast)."""
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
