"""A run directory: everything one backtest leaves behind, and reading it back.

| file            | content                                                           |
|-----------------|-------------------------------------------------------------------|
| `report.json`   | `data`, `params`, `metrics`, `benchmark`, `forecast`, `timing`    |
| `equity.csv`    | `datetime,value,benchmark`, one row per bar from `start`          |
| `trades.csv`    | one row per closed trade                                          |
| `forecasts.csv` | `datetime,close,predicted_close,signal`, one row per forecast bar |
| `training.json` | one object per fit (`window_end`, `loss`, `val_loss`, `warm`, ...)|
| `monthly_returns.csv` | `year,month,strategy_pct,buy_and_hold_pct`, % per calendar month |
| `equity.png`    | equity vs buy and hold, with a drawdown panel                     |
| `forecasts.png` | forecast vs actual close, with the trades                         |
| `training.png`  | training and validation loss per fit; only when a model was fit   |
| `report.html`   | interactive charts, metrics and monthly returns, works offline    |

Floats are written with a fixed format, so the same data, params and seed give byte-identical
files. A directory is only reused for the same run (same `data` and `params` in its report);
anything else is refused unless the caller forces it, so a run never silently overwrites another.

A run holds its directory from start to finish (`claim_run_dir`: a lock file beside it, released
when the run ends or its process dies), so a second run into the same directory is refused at once
instead of overwriting the first at the end. The files are built in a temporary sibling
directory and moved into place with `report.json` last: a directory that has a `report.json` is
complete, whatever killed or starved the run that wrote it.
"""

import errno
import glob
import json
import logging
import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic_files import remove_leftovers, temp_dir
from ..errors import DataError, LstmBtError
from ..report.table import monthly_returns_frame, start_value

__all__ = [
    "RunRecord",
    "RunDirInUse",
    "RunDirClaim",
    "RUN_FILES",
    "check_run_dir",
    "claim_run_dir",
    "write_run_dir",
    "read_run_dir",
    "write_plots",
    "to_json_value",
]

log = logging.getLogger(__name__)

REPORT = "report.json"
EQUITY = "equity.csv"
TRADES = "trades.csv"
FORECASTS = "forecasts.csv"
EQUITY_PNG = "equity.png"
FORECASTS_PNG = "forecasts.png"
TRAINING = "training.json"
TRAINING_PNG = "training.png"
MONTHLY = "monthly_returns.csv"
REPORT_HTML = "report.html"
RUN_FILES = (REPORT, EQUITY, TRADES, FORECASTS, TRAINING,
             EQUITY_PNG, FORECASTS_PNG, TRAINING_PNG, MONTHLY, REPORT_HTML)

# Ten significant digits keep satoshi-sized prices and 1e6 account values exact enough while
# making the text stable across platforms (repr would print float noise differently).
FLOAT_FORMAT = "%.10g"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class RunDirInUse(LstmBtError):
    """The output directory holds a different run (or other files)."""


@dataclass
class RunRecord:
    """What a run directory holds, as Python objects.

    Attributes:
        report: the `report.json` dict.
        equity: DataFrame indexed by `datetime`, columns `value`, `benchmark`.
        trades: DataFrame, one row per closed trade.
        forecasts: DataFrame indexed by `datetime`, columns `close`, `predicted_close`, `signal`.
        training: one dict per fit, as `LSTMStrategy.training_history` records it (`window_end`
            a datetime); empty when nothing was fit, or for a directory written before
            `training.json` existed.
    """

    report: dict
    equity: pd.DataFrame
    trades: pd.DataFrame
    forecasts: pd.DataFrame
    training: list = field(default_factory=list)

    @property
    def stats(self):
        """The report as a labelled `pandas.Series`, units in the keys (`"Fees [quote]"`),
        like backtesting.py's `Backtest.run()`; see `lstm_bt.report.table.stats_series`."""
        from ..report.table import stats_series

        return stats_series(self.report)

    def plot(self, log=False):
        """equity.png as a matplotlib `Figure`, shown inline when a notebook cell ends with it."""
        from ..report.plotting import plot_equity

        data = self.report.get("data", {})
        return plot_equity(self.equity, trades=self.trades, training=self.training, log=log,
                           report=self.report, symbol=data.get("symbol"),
                           interval=data.get("interval"))


def to_json_value(value):
    """Turn numpy scalars, dates and paths into JSON types; NaN and inf become None (null).

    An undefined metric must read as null, never as a made-up number or invalid JSON.
    """
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def run_identity(report):
    """The part of a report that says which run it is: its data and every param."""
    return to_json_value({"data": report.get("data"), "params": report.get("params")})


def check_run_dir(path, report, force=False):
    """Make sure `path` may receive the run described by `report` (nothing is created).

    Fine: a missing or empty directory, or one holding the same run (same `data` and `params`).
    Refused unless `force`: a directory holding another run, or files that are not a run.

    Args:
        path: the output directory.
        report: the new run's report; only its `data` and `params` are read.
        force: reuse the directory anyway (run files are replaced, other files kept).
            Defaults to `False`.

    Raises:
        RunDirInUse: the directory holds something else and `force` is off, or `path` (or a
            folder above it) is a file.
    """
    path = Path(path)
    _refuse_file_in_the_way(path)
    if force or not path.exists() or not any(path.iterdir()):
        return path
    held = _held_identity(path)
    if held is None:
        raise RunDirInUse(
            f"`out` {path} is not empty and holds no lstm-bt run ({REPORT} missing or "
            "unreadable); choose a new directory, or pass `force` to write into it anyway."
        )
    if held != run_identity(report):
        changed = _first_difference(held, run_identity(report))
        raise RunDirInUse(
            f"`out` {path} holds a different run ({changed}); choose a new directory, "
            "or pass `force` to overwrite it."
        )
    return path


class RunDirClaim:
    """A run's hold on its output directory, from `claim_run_dir` until `release()`.

    The hold is an exclusive `flock` on `.<name>.lstm-bt.lock` beside the directory: the kernel
    drops it when the process dies, so a killed run never blocks the next one. Usable as a
    context manager.
    """

    def __init__(self, path):
        self.path = Path(os.path.abspath(path))  # `.` has no name to put a lock beside
        self.lock_path = self.path.parent / f".{self.path.name}.lstm-bt.lock"
        self._fd = None

    def acquire(self):
        """Take the hold, or raise `RunDirInUse` naming the process that has it."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                raise RunDirInUse(
                    f"`out` {self.path} is being written by another lstm-bt run (pid "
                    f"{holder or 'unknown'}); wait for it to finish, or choose another `out`."
                ) from None
            # The previous holder unlinks the file as it releases: a lock taken on that
            # unlinked file holds nothing, so take it again on the file now at the path.
            try:
                current = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        remove_leftovers(self.path.parent, glob.escape(_build_prefix(self.path)) + "*")
        return self

    def release(self):
        """Give the directory up (also done by the kernel if the process dies)."""
        if self._fd is None:
            return
        self.lock_path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


def claim_run_dir(path, report, force=False):
    """Check `path` for the run described by `report` (`check_run_dir`) and hold it.

    Returns:
        A `RunDirClaim`; release it (or use it in a `with`) when the run is written or failed.

    Raises:
        RunDirInUse: `check_run_dir` refuses, or another run holds the directory.
    """
    path = check_run_dir(path, report, force=force)
    return RunDirClaim(path).acquire()


def write_run_dir(path, record, force=False, plots=True):
    """Write a run directory (see the module docstring) and return its path.

    The files are built beside `path` and moved in with `report.json` last, so a run that
    fails while writing (disk full, killed) leaves no directory that looks complete; a run
    already in `path` stays whole until the new one is ready to replace it.

    Args:
        path: the output directory; checked with `check_run_dir` first.
        record: a `RunRecord` (or a backtest result, which is one).
        force: overwrite a directory holding another run. Defaults to `False`.
        plots: also draw `equity.png`, `forecasts.png` and `training.png`. Defaults to `True`.
    """
    path = check_run_dir(path, record.report, force=force)
    target = Path(os.path.abspath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    with temp_dir(target.parent, _build_prefix(target)) as building:
        _write_frame(record.equity, building / EQUITY, index=True)
        _write_frame(record.trades, building / TRADES, index=False)
        _write_frame(record.forecasts, building / FORECASTS, index=True)
        # Written even when empty: `[]` says "nothing was fit" and replaces a forced-over run's.
        _write_json(record.training, building / TRAINING)
        _write_frame(monthly_returns_frame(record.equity,
                                           start_value(record.report, record.equity)),
                     building / MONTHLY, index=False)
        if plots:
            write_plots(building, record)
        _write_json(record.report, building / REPORT)
        _move_into_place(building, target)
    log.info("wrote run directory %s", path)
    return path


def read_run_dir(path):
    """Read a run directory back into a `RunRecord`.

    Raises:
        DataError: the directory or one of its files is missing or unreadable.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"RUN_DIR {path} is not a directory; pass the --out of a backtest.")
    try:
        report = json.loads((path / REPORT).read_text(encoding="utf-8"))
        if not isinstance(report, dict):
            raise ValueError(f"{REPORT} holds a {type(report).__name__}, not a report object")
        equity = _read_frame(path / EQUITY, index=True, floats=("value", "benchmark"))
        trades = _read_frame(path / TRADES, index=False)
        forecasts = _read_frame(path / FORECASTS, index=True, floats=("close", "predicted_close"))
        training = _read_training(path / TRAINING)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DataError(
            f"RUN_DIR {path} is not a complete run directory ({error}); "
            "run `lstm-bt backtest ... --out DIR` to make one."
        ) from None
    return RunRecord(report=report, equity=equity, trades=trades, forecasts=forecasts,
                     training=training)


def write_plots(path, record, log=False):
    """Draw `equity.png` (on a log scale with `log`), `forecasts.png` (with the trades),
    `training.png` when a model was fit, and `report.html` into `path`; returns the paths."""
    from ..report.html import write_html_report
    from ..report.plotting import plot_equity, plot_forecasts, plot_training_loss

    path = Path(path)
    data = record.report.get("data", {})
    market = {"symbol": data.get("symbol"), "interval": data.get("interval"),
              "report": record.report}
    drawn = [path / EQUITY_PNG, path / FORECASTS_PNG]
    plot_equity(record.equity, drawn[0], trades=record.trades, training=record.training, log=log,
                **market)
    plot_forecasts(record.forecasts, drawn[1], trades=record.trades, **market)
    if record.training:
        drawn.append(path / TRAINING_PNG)
        plot_training_loss(record.training, drawn[-1], **market)
    else:
        # A replay without history has no loss to draw; a loss plot left by a forced-over
        # run would describe fits this run never made.
        (path / TRAINING_PNG).unlink(missing_ok=True)
    drawn.append(path / REPORT_HTML)
    write_html_report(drawn[-1], record.equity, forecasts=record.forecasts, trades=record.trades,
                      report=record.report)
    return drawn


def _refuse_file_in_the_way(path):
    """Raise if `path`, or the nearest folder above it that exists, is not a directory."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                where = "is a file" if place == path else f"is under {place}, a file"
                raise RunDirInUse(f"`out` {path} {where}, not a directory; choose another `out`.")
            return


def _build_prefix(path):
    return f".{path.name}.lstm-bt-"


def _move_into_place(building, path):
    """Put the finished files of `building` at `path`, `report.json` last."""
    try:
        os.rename(building, path)  # `path` missing or empty: one atomic step
        return
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    # `path` holds a run (this one again, or one forced over) and maybe a user's own files:
    # without its report it no longer looks complete while the files are replaced.
    (path / REPORT).unlink(missing_ok=True)
    built = {item.name for item in building.iterdir()}
    for name in RUN_FILES:
        if name not in built:
            (path / name).unlink(missing_ok=True)
    for name in sorted(built - {REPORT}):
        os.replace(building / name, path / name)
    os.replace(building / REPORT, path / REPORT)
    building.rmdir()


def _write_json(value, path):
    text = json.dumps(to_json_value(value), indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def _read_training(path):
    """The fits in `training.json`, `window_end` as datetimes; none if the file is missing
    (a run directory written before it existed)."""
    if not path.exists():
        return []
    fits = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(fits, list) or not all(
        isinstance(fit, dict) and isinstance(fit.get("window_end"), str) for fit in fits
    ):
        raise ValueError(f"{TRAINING} is not a list of fits with a `window_end`")
    return [dict(fit, window_end=datetime.fromisoformat(fit["window_end"])) for fit in fits]


def _write_frame(frame, path, index):
    frame.to_csv(
        path,
        index=index,
        float_format=FLOAT_FORMAT,
        date_format=DATETIME_FORMAT,
        lineterminator="\n",
    )


def _read_frame(path, index, floats=()):
    # "%.10g" writes 10005.0 as 10005; read such columns back as the floats they were.
    frame = pd.read_csv(path, dtype={name: np.float64 for name in floats})
    if index:
        frame["datetime"] = pd.to_datetime(frame["datetime"], format=DATETIME_FORMAT)
        frame = frame.set_index("datetime")
    return frame


def _held_identity(path):
    try:
        report = json.loads((path / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or not all(
        isinstance(report.get(section), dict) for section in ("data", "params")
    ):
        return None
    return run_identity(report)


def _first_difference(held, new):
    """Name the first field that differs, e.g. `params.seq_len 60 != 30`."""
    for section in ("data", "params"):
        old_items, new_items = held[section], new[section] or {}
        for key in [*new_items, *(key for key in old_items if key not in new_items)]:
            if old_items.get(key) != new_items.get(key):
                return f"{section}.{key}: {old_items.get(key)!r} there, {new_items.get(key)!r} now"
    return "its report differs"
