"""Backtrader strategies: `LSTMStrategy` trades an LSTM forecast retrained on a rolling window.

Importing this package does not import Keras or TensorFlow; they load on the first fit.
"""

# Absolute imports, so backtrader's `btrun`, which loads a module from its file path, can load
# this file: btrun --strategy lstm_bt/strategies/__init__.py:LSTMStrategy:seq_len=30
from lstm_bt.strategies.lstm_strategy import LSTMStrategy
from lstm_bt.strategies.sizing import SIZINGS, target_size

__all__ = ["LSTMStrategy", "SIZINGS", "target_size"]
