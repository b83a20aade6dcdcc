"""The forecaster and everything it stands on: features, schedule, NumPy forward pass.

Importing this package does not import Keras or TensorFlow; they load on the first `fit`.
"""

from .features import FEATURE_SETS, make_features
from .forecaster import LSTMForecaster, NotFittedError
from .schedule import Window, required_history, rolling_schedule, window_at

__all__ = [
    "LSTMForecaster",
    "NotFittedError",
    "FEATURE_SETS",
    "make_features",
    "Window",
    "required_history",
    "rolling_schedule",
    "window_at",
]
