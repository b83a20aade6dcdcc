"""backtrader data feeds for Binance klines."""

from .binance_klines import BinanceKlines

__all__ = ["BinanceKlines"]
