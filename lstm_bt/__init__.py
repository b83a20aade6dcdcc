"""lstm-bt: backtest Keras LSTM trading strategies on Binance klines with backtrader.

Importing it is cheap: TensorFlow and matplotlib load when first needed.
"""

from .errors import BinanceError, DataError, InvalidParameter, LstmBtError, NetworkError
from ._version import __version__
from .data.intervals import INTERVALS, Interval, get_interval

__all__ = [
    "run_backtest",
    "demo_klines",
    "sweep",
    "LstmBtError",
    "InvalidParameter",
    "DataError",
    "BinanceError",
    "NetworkError",
    "Interval",
    "INTERVALS",
    "get_interval",
    "__version__",
]


def __getattr__(name):
    if name == "run_backtest":
        from .run.runner import run_backtest

        return run_backtest
    if name == "demo_klines":
        from .run.runner import demo_klines

        return demo_klines
    if name == "sweep":
        from .sweeps import sweep

        return sweep
    raise AttributeError(f"module 'lstm_bt' has no attribute {name!r}")
