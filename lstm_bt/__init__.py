"""lstm-bt: backtest Keras LSTM trading strategies on Binance klines with backtrader.

The submodules mirror backtrader: `lstm_bt.feeds`, `lstm_bt.strategies`, `lstm_bt.analyzers`,
plus `lstm_bt.models` (the forecaster) and `lstm_bt.binance` (REST client, store, files).
Importing this package is cheap: TensorFlow and matplotlib load only when first needed.
"""

from .errors import BinanceError, DataError, InvalidParameter, LstmBtError, NetworkError
from .intervals import INTERVALS, Interval, get_interval

__version__ = "0.1.0"

__all__ = [
    "run_backtest",
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
        from .runner import run_backtest

        return run_backtest
    if name == "sweep":
        # The package lstm_bt.sweep; calling it runs `lstm_bt.sweep.sweep`.
        import importlib

        return importlib.import_module(f"{__name__}.sweep")
    raise AttributeError(f"module 'lstm_bt' has no attribute {name!r}")
