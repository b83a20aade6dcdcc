"""The kline DataFrame every data source produces and every consumer reads.

Index: `datetime`, the bar's open time as a naive UTC `DatetimeIndex` (backtrader's convention),
sorted, unique. Columns: `COLUMNS`, floats except `trades` (int64).
"""

__all__ = ["COLUMNS", "PRICE_COLUMNS"]

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)

