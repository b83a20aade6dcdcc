"""Binance kline rows (REST rows, stream candles) to and from the kline frame."""

import numpy as np
import pandas as pd

from ..data.kline_frame import COLUMNS

# The 11 meaningful fields of a Binance kline row, in REST order (the 12th, "ignore", is dropped).
ROW_FIELDS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "trades", "taker_buy_base_volume", "taker_buy_quote_volume",
)

# The same fields in a kline stream candle, in `ROW_FIELDS` order.
STREAM_FIELDS = ("t", "o", "h", "l", "c", "v", "T", "q", "n", "V", "Q")


def parse_row(raw):
    """One kline row as Binance sends it (a list, numbers as strings) to a `ROW_FIELDS` tuple.

    Raises:
        ValueError, TypeError, IndexError: the row is not a Binance kline.
    """
    return (
        int(raw[0]), float(raw[1]), float(raw[2]), float(raw[3]), float(raw[4]), float(raw[5]),
        int(raw[6]), float(raw[7]), int(raw[8]), float(raw[9]), float(raw[10]),
    )


def parse_stream_candle(candle):
    """A kline stream candle (the `k` object of a kline event) to a `ROW_FIELDS` tuple.

    Raises:
        KeyError, ValueError, TypeError: a field is missing or not a number.
    """
    return parse_row([candle[field] for field in STREAM_FIELDS])


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
