"""Binance kline files: the 12-column CSV, bare or zipped, in and out.

REST dumps and data.binance.vision archives alike: with or without a header, open times in
s, ms or µs, detected row by row (archives switch units, so one set of files mixes them).
Duplicate bars are dropped (the last wins), the order is fixed, gaps are warned of, never filled.
"""

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..data.intervals import INTERVALS, get_interval
from ..data.kline_frame import check_klines
from ._frames import ROW_FIELDS, frame_from_array

__all__ = ["read_kline_file", "write_kline_csv", "infer_interval", "bar_interval", "find_gaps",
           "CSV_HEADER"]

CSV_HEADER = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
    "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
# Any epoch time below 1e11 is seconds (1e11 ms is 1973), below 1e14 milliseconds, else µs.
_SECONDS_BELOW = 1e11
_MILLISECONDS_BELOW = 1e14


def read_kline_file(path, interval=None):
    """Read a Binance kline CSV, or a `.zip` of them, into a kline frame.

    Args:
        path: a `.csv` file, or a `.zip` whose `.csv` members are read in name order.
        interval: the bars' Binance interval, to count gaps. Defaults to `None`: inferred.

    Raises:
        DataError: a missing file, not 12-column klines, or a row that cannot be a bar; the
            message names the file and the line.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"Kline file not found: {str(path)!r}. Check the path.")
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise DataError(f"{str(path)!r} is {kind}; give a kline .csv or .zip file.")
    try:
        parts = [_read_csv(open_source, label) for open_source, label in _csv_sources(path)]
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, zipfile.BadZipFile) as error:
        raise DataError(
            f"{path.name}: cannot read it as Binance klines ({type(error).__name__}: {error}); "
            f"give a kline CSV or a data.binance.vision .zip."
        ) from None
    array = np.concatenate(parts) if parts else np.empty((0, len(ROW_FIELDS)))
    array = _sorted_unique(array, path.name)
    frame = frame_from_array(array)
    if len(frame) > 1:
        _warn_gaps(frame.index, bar_interval(frame.index, interval), path.name)
    return frame


def write_kline_csv(path, frame, interval):
    """Write a kline frame as a Binance kline CSV (header, 12 fields, ms) that
    `read_kline_file` reads back unchanged; a missing `close_time` column is derived.
    """
    step = get_interval(interval)
    open_ms = _open_ms(frame.index)
    if "close_time" in frame:
        close_ms = frame["close_time"].to_numpy(np.int64)
    else:
        close_ms = np.array([step.close_ms(int(ms)) for ms in open_ms], dtype=np.int64)
    columns = {"open_time": open_ms}
    for name, field in zip(CSV_HEADER[1:11], ROW_FIELDS[1:]):
        columns[name] = close_ms if field == "close_time" else frame[field].to_numpy()
    columns["ignore"] = np.zeros(len(frame), dtype=np.int64)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns).to_csv(path, index=False)


def infer_interval(index):
    """The Binance `Interval` matching the median spacing of `index`, or `DataError`."""
    if len(index) < 2:
        raise DataError("Cannot infer the interval from fewer than 2 bars; pass `interval`.")
    spacing_ms = int(np.median(np.diff(_open_ms(index))))
    for interval in INTERVALS.values():
        if interval.ms == spacing_ms:
            return interval
    month = INTERVALS["1M"]
    if month.shortest_ms <= spacing_ms <= month.longest_ms:
        return month
    raise DataError(
        f"Bars are {spacing_ms / 1000:g} s apart, which is no Binance interval; pass `interval` "
        f"(one of {' '.join(INTERVALS)})."
    )


def bar_interval(index, interval=None):
    """The bars' `Interval`: the stated `interval`, checked against the spacing, or inferred.

    Raises:
        DataError: the stated interval contradicts the spacing (1h bars called 1d), or none is
            stated and the spacing is no Binance interval.
    """
    if interval is None:
        return infer_interval(index)
    stated = get_interval(interval)
    try:
        spaced = infer_interval(index) if len(index) > 1 else stated
    except DataError:
        return stated  # irregular spacing: the gap count says what is wrong
    if spaced.name != stated.name:
        raise DataError(
            f"`interval` {stated.name} contradicts the bars, which are {spaced.name} apart; "
            f"give `interval` {spaced.name} or leave it out (it is read from the bars)."
        )
    return stated


def find_gaps(index, interval):
    """Runs of missing bars in sorted open times: `(first_missing, last_missing, bars)` each."""
    step = get_interval(interval)
    open_ms = _open_ms(index)
    gaps = []
    for i in np.nonzero(np.diff(open_ms) > step.shortest_ms)[0]:
        previous, current = int(open_ms[i]), int(open_ms[i + 1])
        expected = step.next_open(previous)
        if current <= expected:
            continue
        missing = [expected]
        while step.next_open(missing[-1]) < current:
            missing.append(step.next_open(missing[-1]))
        gaps.append((pd.Timestamp(missing[0], unit="ms"), pd.Timestamp(missing[-1], unit="ms"),
                     len(missing)))
    return gaps


def _open_ms(index):
    return index.values.astype("datetime64[ms]").astype(np.int64)


def _csv_sources(path):
    """(opener of a binary stream, label) for each CSV in `path`, a file or a zip."""
    if path.suffix.lower() != ".zip":
        yield (lambda: path.open("rb")), path.name
        return
    with zipfile.ZipFile(path) as archive:
        members = sorted(name for name in archive.namelist() if name.lower().endswith(".csv"))
        if not members:
            raise DataError(f"{path.name} holds no .csv file; expected a data.binance.vision "
                            f"kline archive.")
        for name in members:
            yield (lambda name=name: archive.open(name)), f"{path.name}:{name}"


def _read_csv(open_source, label):
    """One CSV's rows as an `(n, 11)` float64 array in `ROW_FIELDS` order, times in ms.

    Parsed as numbers at once, not as text first, so a file costs about its size in memory.
    """
    with open_source() as stream:
        first_line = stream.readline().decode("utf-8", "replace").strip()
    fields = first_line.split(",")
    if not first_line:
        return np.empty((0, len(ROW_FIELDS)))
    if len(fields) < len(ROW_FIELDS):
        raise DataError(
            f"{label}: found {len(fields)} columns, expected the 12 of a Binance kline row "
            f"({', '.join(CSV_HEADER)})."
        )
    header = 0 if _is_number(fields[0]) else 1
    try:
        with open_source() as stream:
            table = pd.read_csv(stream, header=None, skiprows=header,
                                dtype=dict.fromkeys(range(len(ROW_FIELDS)), np.float64))
    except pd.errors.EmptyDataError:
        return np.empty((0, len(ROW_FIELDS)))
    except ValueError as error:
        if isinstance(error, pd.errors.ParserError):
            raise
        raise DataError(f"{label}: a field is not a number ({error}); expected Binance "
                        f"klines.") from None
    array = table.iloc[:, : len(ROW_FIELDS)].to_numpy(np.float64)
    del table
    array[:, 0] = _to_ms(array[:, 0], np.round)
    array[:, 6] = _to_ms(array[:, 6], np.floor)
    check_klines(array[:, 0], {name: array[:, i] for i, name in enumerate(ROW_FIELDS)}, label,
                 where=lambda i: f"line {i + 1 + header}")
    return array


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _to_ms(epoch, rounding):
    """Epoch times in s, ms or µs (per value) as ms; `rounding` settles fractions."""
    seconds = epoch < _SECONDS_BELOW
    micros = epoch >= _MILLISECONDS_BELOW
    ms = np.where(seconds, np.round(epoch * 1000), epoch)
    return np.where(micros, rounding(epoch / 1000), ms)


def _sorted_unique(array, name):
    open_ms = array[:, 0]
    if np.any(np.diff(open_ms) < 0):
        warnings.warn(f"{name}: rows were out of order; sorted by open time.", stacklevel=3)
        array = array[np.argsort(open_ms, kind="stable")]
        open_ms = array[:, 0]
    last_of_each = np.append(open_ms[1:] != open_ms[:-1], True)
    duplicates = int(np.count_nonzero(~last_of_each))
    if duplicates:
        warnings.warn(f"{name}: dropped {duplicates} duplicate bars (kept the last of each).",
                      stacklevel=3)
        array = array[last_of_each]
    return array


def _warn_gaps(index, interval, name):
    gaps = find_gaps(index, interval)
    if gaps:
        missing = sum(bars for _, _, bars in gaps)
        warnings.warn(
            f"{name}: {len(gaps)} gaps, {missing} missing {interval} bars (first at "
            f"{gaps[0][0]:%Y-%m-%d %H:%M}); left as gaps, not filled.",
            stacklevel=3,
        )
