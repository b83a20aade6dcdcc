"""Backtrader strategies: `LSTMStrategy` trades an LSTM forecast retrained on a rolling window.

Importing this package does not import Keras or TensorFlow; they load on the first fit.
"""

from .lstm_strategy import LSTMStrategy
from .sizing import SIZINGS, target_size

__all__ = ["LSTMStrategy", "SIZINGS", "target_size"]
