"""The walk-forward, the forecaster and what they stand on: features, schedule, forward pass.

Importing this package does not import Keras or TensorFlow; they load on the first `fit`.
"""

from .features import FEATURE_SETS, make_features
from .forecaster import LSTMForecaster, NotFittedError
from .schedule import Window, required_history, rolling_schedule, window_at
from .walk_forward import ReplayedForecasts, WalkForward, forecast_frame

__all__ = [
    "WalkForward",
    "ReplayedForecasts",
    "forecast_frame",
    "LSTMForecaster",
    "NotFittedError",
    "FEATURE_SETS",
    "make_features",
    "Window",
    "required_history",
    "rolling_schedule",
    "window_at",
]
