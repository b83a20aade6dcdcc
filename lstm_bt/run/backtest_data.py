"""The bars a backtest runs on: from any source, cut to the dates, with the warm-up before them.

`start` is the first traded and measured bar; the first model needs `history` bars before it
(train window + sequence length). This module loads them (from Binance, a file, or a frame),
checks the dates against the data, and refuses with bar counts and the fix when the history is
short, so a backtest never starts by silently trading on a half-trained model.

Errors name the Python arguments (`start`, `train_window`); the command line shows them as its
flags (`--start`, `--train-window`).
"""

import logging
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import pandas as pd

from ..data.dates import check_range, from_ms, parse_date, to_ms
from ..errors import DataError, InvalidParameter
from ..data.intervals import get_interval
from ..data.kline_frame import COLUMNS, validate_kline_frame

__all__ = ["BacktestData", "load_backtest_data", "history_start"]

log = logging.getLogger(__name__)

# "BTCUSDT-1h-2024-12.zip" (data.binance.vision) or "btcusdt_1h_2024.csv": symbol, interval.
_ARCHIVE_NAME = re.compile(r"^([A-Za-z0-9]{2,20})[-_](\d{1,2}[smhdwM])[-_.]")


@dataclass(frozen=True)
class BacktestData:
    """Bars ready for the feed.

    Attributes:
        frame: kline frame: `history` warm-up bars, then the measured bars.
        symbol: the symbol (or a label for files and frames).
        interval: the Binance interval name.
        start: open time of the first measured bar (inclusive).
        end: the exclusive end (as given, or the end of the last bar).
        history: warm-up bars before `start`.
        source: where the bars came from, for the report: `{"source": "file", "path": ...}`,
            `{"source": "binance", "base_url": ...}` or `{"source": "frame"}`.
    """

    frame: pd.DataFrame
    symbol: str
    interval: str
    start: datetime
    end: datetime
    history: int
    source: dict = field(default_factory=lambda: {"source": "frame"})

    @property
    def bars(self):
        """Measured bars, from `start`."""
        return len(self.frame) - self.history

    def for_replay(self):
        """The same bars with one bar of history instead of the model's warm-up: what a replay
        of forecasts needs when the strategy reads no earlier bar
        (`LSTMStrategy.replay_from_start`). The one bar is the naive rules' first move."""
        kept = min(self.history, 1)
        return replace(self, frame=self.frame.iloc[self.history - kept:], history=kept)

    def describe(self):
        """The `data` section of `report.json`."""
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "bars": self.bars,
            **self.source,
        }


def load_backtest_data(data=None, *, symbol=None, interval=None, start=None, end=None,
                       history=0, base_url=None, data_dir=None, offline=False, progress=False):
    """Load, check and cut the bars of one backtest.

    Args:
        data: a kline frame, a path to a Binance kline file (`.csv`/`.zip`), or `None` to
            read `symbol`/`interval` from Binance through the local store.
        symbol: Binance symbol (required with `data=None`; a label otherwise, read from a
            data.binance.vision file name when left out).
        interval: Binance interval (required with `data=None`; inferred from the file name
            or the bar spacing otherwise).
        start: first traded and measured bar, inclusive, UTC. Defaults to `None`: the first
            bar that has `history` bars before it.
        end: exclusive end, UTC. Defaults to `None`: the end of the data.
        history: warm-up bars needed before `start`.
        base_url: Binance REST root (with `data=None`). Defaults to the configured one.
        data_dir: kline store directory (with `data=None`). Defaults to the configured one.
        offline: read the kline store only, never the network (with `data=None`). Defaults
            to `False`.
        progress: show a download progress bar. Defaults to `False`.

    Returns:
        A `BacktestData`.

    Raises:
        DataError: the data cannot be read, or does not cover the dates with enough history.
        InvalidParameter: bad dates or source arguments.
    """
    start = parse_date(start, "start") if start is not None else None
    end = parse_date(end, "end") if end is not None else None
    if start is not None:
        check_range(start, end, "start", "end")
    if data is None:
        from ..settings import resolve_base_url

        frame, symbol, interval = _from_binance(symbol, interval, start, end, history,
                                                base_url, data_dir, offline, progress)
        source = {"source": "binance", "base_url": resolve_base_url(base_url)}
    elif isinstance(data, pd.DataFrame):
        frame = _checked_frame(data)
        symbol, interval = symbol or "DATA", _interval_of(frame, interval)
        source = {"source": "frame"}
    else:
        frame, symbol, interval = _from_file(Path(data), symbol, interval)
        source = {"source": "file", "path": os.path.abspath(data)}
    return replace(_cut(frame, symbol, interval, start, end, history), source=source)


def _from_binance(symbol, interval, start, end, history, base_url, data_dir, offline,
                  progress):
    from ..binance import load_klines

    if not symbol or not interval or start is None:
        raise InvalidParameter(
            "Reading from Binance needs `symbol`, `interval` and `start`, e.g. BTCUSDT, 1h "
            "and 2024-01-01; or give a kline file or frame as the data."
        )
    step = get_interval(interval)
    first = history_start(start, history, step.name)
    frame = load_klines(symbol, step.name, first, end, base_url=base_url,
                        data_dir=data_dir, progress=progress, offline=offline)
    if frame.empty:
        raise DataError(
            f"no {symbol} {step.name} bars from {first:%Y-%m-%d %H:%M} "
            f"(warm-up included) to {f'{end:%Y-%m-%d %H:%M}' if end else 'now'}: Binance has "
            f"none there (a `start` in the future, or before {symbol} was listed); pick "
            "dates with bars."
        )
    return frame, symbol, step.name


def history_start(start, history, interval, what="`train_window` (or `seq_len`)"):
    """The open time from which to ask for `history` warm-up bars of `interval` before `start`
    (a naive UTC datetime); for 1M (no fixed length) the longest month is a safe excess.

    Raises:
        InvalidParameter: the warm-up reaches back before 1970, where no klines exist (and
            before year 1, where no date does).
    """
    first_ms = to_ms(start) - history * get_interval(interval).longest_ms
    if first_ms < 0:
        raise InvalidParameter(
            f"The first model needs {history:,} bars of {interval} warm-up before "
            f"{start:%Y-%m-%d %H:%M}, which reaches back before 1970 (no klines exist there); "
            f"lower {what}.")
    return from_ms(first_ms)


def _from_file(path, symbol, interval):
    from ..binance import read_kline_file

    named = _ARCHIVE_NAME.match(path.name)
    if interval is None and named:
        interval = named.group(2)
    frame = read_kline_file(path, interval=interval)
    if frame.empty:
        raise DataError(f"{path} holds no klines; give a file with kline rows.")
    name = named.group(1).upper() if named else path.stem
    return frame, symbol or name, _interval_of(frame, interval)


def _checked_frame(frame):
    missing = [name for name in COLUMNS if name not in frame.columns]
    if missing or not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(
            f"A kline frame needs a DatetimeIndex and the columns {', '.join(COLUMNS)}; "
            f"missing {missing or 'the DatetimeIndex'}. Build it with lstm_bt.binance or "
            "lstm_bt.data.synthetic."
        )
    if frame.empty:
        raise DataError("The kline frame has no rows.")
    return validate_kline_frame(frame.sort_index())


def _interval_of(frame, interval):
    from ..binance.files import bar_interval

    return bar_interval(frame.index, interval).name


def _cut(frame, symbol, interval, start, end, history):
    first_bar, last_bar = frame.index[0], frame.index[-1]
    span = f"the data covers {first_bar:%Y-%m-%d %H:%M} to {last_bar:%Y-%m-%d %H:%M}"
    if end is not None and end <= first_bar:
        raise DataError(f"`end` {end:%Y-%m-%d %H:%M} is before the first bar: {span}.")
    # The report states the period actually covered: an `end` past the data is cut back.
    data_end = from_ms(get_interval(interval).next_open(to_ms(last_bar)))
    if end is None or end > data_end:
        end = data_end
    frame = frame[frame.index < end]
    if start is None:
        if len(frame) <= history:
            raise _too_little_history(history, len(frame), span, "the data")
        start = frame.index[history].to_pydatetime()
    if start > frame.index[-1]:
        raise DataError(f"`start` {start:%Y-%m-%d %H:%M} is after the last bar: {span}.")
    first = int(frame.index.searchsorted(start))
    if first < history:
        raise _too_little_history(history, first, span, f"`start` {start:%Y-%m-%d %H:%M}",
                                  suggest=frame.index[history] if len(frame) > history else None)
    frame = frame.iloc[first - history:]
    log.info("%d warm-up bars from %s, %d measured bars from %s", history, frame.index[0],
             len(frame) - history, start)
    return BacktestData(frame=frame, symbol=symbol, interval=interval, start=start, end=end,
                        history=history)


def _too_little_history(needed, available, span, before, suggest=None):
    later = f"start at {suggest:%Y-%m-%d %H:%M} or later, " if suggest is not None else ""
    return DataError(
        f"too little history: the first model needs {needed} bars before {before} "
        f"(train_window + seq_len), {available} are available ({span}); {later}"
        "or lower `train_window` / `seq_len`."
    )
