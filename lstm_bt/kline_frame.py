"""The kline DataFrame every data source produces and every consumer reads.

Index: `datetime`, the bar's open time as a naive UTC `DatetimeIndex` (backtrader's convention),
sorted, unique. Columns: `COLUMNS`, floats except `trades` (int64).
"""

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "PRICE_COLUMNS", "empty_frame"]

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


def empty_frame():
    """A kline frame with no rows, the right columns, dtypes and index name."""
    frame = pd.DataFrame({name: pd.Series(dtype=np.float64) for name in COLUMNS})
    frame["trades"] = frame["trades"].astype(np.int64)
    frame.index = pd.DatetimeIndex([], name="datetime")
    return frame
