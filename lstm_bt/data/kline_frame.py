"""The kline frame every source produces, and the one rule every bar must pass.

Index `datetime`: the bar's open time, naive UTC, sorted, unique; columns `COLUMNS`. A bar has
finite positive prices, low <= open, close <= high, finite volumes and counts >= 0 and an open
time in [1970, 2100); `check_klines` and `validate_kline_frame` name the first row that is not.
"""

import numpy as np

from ..errors import DataError

__all__ = [
    "COLUMNS",
    "PRICE_COLUMNS",
    "AMOUNT_COLUMNS",
    "EARLIEST_OPEN_MS",
    "LATEST_OPEN_MS",
    "format_open_time",
    "kline_problem",
    "check_klines",
    "validate_kline_frame",
]

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
AMOUNT_COLUMNS = tuple(name for name in COLUMNS if name not in PRICE_COLUMNS)
# Outside these: a unit mix-up or a corrupt value, not a bar.
EARLIEST_OPEN_MS = 0
LATEST_OPEN_MS = 4_102_444_800_000

_FRAME_FIX = "drop or repair that row (e.g. `frame.dropna()`, or keep only rows with valid prices)"


def kline_problem(open_ms, columns, where=None):
    """What is wrong with the first row that cannot be a bar, or None.

    Args:
        open_ms: open times in ms since the epoch, one per row (NaN = missing).
        columns: column name -> same-length array; the price and amount columns present count.
        where: names a row position, e.g. `lambda i: f"line {i + 2}"`. Defaults to `"row {i}"`.
    """
    open_ms = np.asarray(open_ms, dtype=np.float64)
    problems = _row_problems(open_ms, columns)
    if not problems:
        return None
    position = min(problems)
    name = where(position) if where is not None else f"row {position}"
    return f"{name}{_open_label(open_ms[position])}: {problems[position]}"


def check_klines(open_ms, columns, source, *, where=None, fix="fix or remove that row"):
    """Raise `DataError` "`source`: `kline_problem(...)`; `fix`." when a row cannot be a bar."""
    problem = kline_problem(open_ms, columns, where)
    if problem is not None:
        raise DataError(f"{source}: {problem}; {fix}.")


def validate_kline_frame(frame, source="the kline frame", *, fix=_FRAME_FIX):
    """Return `frame` unchanged, or raise `DataError` naming its first missing or repeated
    open time or bad row (`source` and `fix` as for `check_klines`).
    """
    index = frame.index
    open_ms = index.values.astype("datetime64[ms]").astype(np.int64).astype(np.float64)
    open_ms[np.asarray(index.isna())] = np.nan
    duplicated = np.asarray(index.duplicated())
    if duplicated.any():
        position = int(np.argmax(duplicated))
        raise DataError(f"{source}: row {position}{_open_label(open_ms[position])} repeats "
                        f"an earlier open time; keep one row per bar (e.g. "
                        f"`frame[~frame.index.duplicated(keep='last')]`).")
    columns = {name: frame[name].to_numpy() for name in COLUMNS if name in frame.columns}
    check_klines(open_ms, columns, source, fix=fix)
    return frame


def _row_problems(open_ms, columns):
    """{position: reason}: each check's first failing row."""
    checks = []
    present = np.isfinite(open_ms)
    checks.append((~present, lambda i: "no open time"))
    checks.append((present & ((open_ms < EARLIEST_OPEN_MS) | (open_ms >= LATEST_OPEN_MS)),
                   lambda i: f"open time {open_ms[i]:g} ms is not between 1970 and 2100 "
                             f"(times are ms, s or µs since 1970-01-01 UTC)"))
    prices = {name: np.asarray(columns[name], dtype=np.float64)
              for name in PRICE_COLUMNS if name in columns}
    for name, values in prices.items():
        checks.append((~(np.isfinite(values) & (values > 0)),
                       lambda i, name=name, values=values:
                       f"{name} is {values[i]:g}; prices must be finite and positive"))
    if len(prices) == 4:
        low, high = prices["low"], prices["high"]
        inside = ((low <= prices["open"]) & (prices["open"] <= high)
                  & (low <= prices["close"]) & (prices["close"] <= high))
        checks.append((~inside, lambda i: (
            f"low {low[i]:g}, open {prices['open'][i]:g}, close {prices['close'][i]:g}, "
            f"high {high[i]:g}; a bar needs low <= open, close <= high")))
    for name in AMOUNT_COLUMNS:
        if name in columns:
            values = np.asarray(columns[name], dtype=np.float64)
            checks.append((~(np.isfinite(values) & (values >= 0)),
                           lambda i, name=name, values=values:
                           f"{name} is {values[i]:g}; it must be finite and >= 0"))
    problems = {}
    for bad, reason in checks:
        hits = np.flatnonzero(bad)
        if hits.size and int(hits[0]) not in problems:
            problems[int(hits[0])] = reason(int(hits[0]))
    return problems


def format_open_time(open_ms):
    """`"2024-01-05 03:00"` for an open time in ms, or `None` when it is no date at all."""
    try:
        return str(np.datetime64(int(open_ms), "ms").astype("datetime64[m]")).replace("T", " ")
    except (OverflowError, ValueError):
        return None


def _open_label(open_ms):
    if np.isfinite(open_ms) and EARLIEST_OPEN_MS <= open_ms < LATEST_OPEN_MS:
        return f" (open {format_open_time(open_ms)})"
    return ""
