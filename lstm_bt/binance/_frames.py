"""Binance kline rows (REST order) to and from the kline frame (see `lstm_bt.data.kline_frame`)."""

import numpy as np
import pandas as pd

from ..data.kline_frame import COLUMNS

# The 11 meaningful fields of a Binance kline row, in REST order (the 12th, "ignore", is dropped).
ROW_FIELDS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "trades", "taker_buy_base_volume", "taker_buy_quote_volume",
)


def frame_from_array(array, *, close_time=False):
    """A kline frame from an `(n, 11)` float array of sorted, unique rows in `ROW_FIELDS`
    order, times in ms; `close_time=True` keeps Binance's `close_time` column.
    """
    array = np.asarray(array, dtype=np.float64).reshape(-1, len(ROW_FIELDS))
    index = pd.DatetimeIndex(pd.to_datetime(array[:, 0].astype(np.int64), unit="ms"),
                             name="datetime")
    columns = {name: array[:, ROW_FIELDS.index(name)] for name in COLUMNS}
    columns["trades"] = columns["trades"].astype(np.int64)
    if close_time:
        columns["close_time"] = array[:, ROW_FIELDS.index("close_time")].astype(np.int64)
    return pd.DataFrame(columns, index=index)
