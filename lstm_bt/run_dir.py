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
"""

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, LstmBtError
from .report_table import monthly_returns_frame, start_value

__all__ = [
    "RunRecord",
    "RunDirInUse",
    "RUN_FILES",
    "check_run_dir",
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
        like backtesting.py's `Backtest.run()`; see `lstm_bt.report_table.stats_series`."""
        from .report_table import stats_series

        return stats_series(self.report)

    def plot(self, log=False):
        """equity.png as a matplotlib `Figure`, shown inline when a notebook cell ends with it."""
        from .plotting import plot_equity

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
    """Make sure `path` may receive the run described by `report`; create it if missing.

    Fine: a missing or empty directory, or one holding the same run (same `data` and `params`).
    Refused unless `force`: a directory holding another run, or files that are not a run.

    Args:
        path: the output directory.
        report: the new run's report; only its `data` and `params` are read.
        force: reuse the directory anyway (run files are overwritten, other files kept).
            Defaults to `False`.

    Raises:
        RunDirInUse: the directory holds something else and `force` is off.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirInUse(f"--out {path} is a file, not a directory; choose another --out.")
    if force or not path.exists() or not any(path.iterdir()):
        path.mkdir(parents=True, exist_ok=True)
        return path
    held = _held_identity(path)
    if held is None:
        raise RunDirInUse(
            f"--out {path} is not empty and holds no lstm-bt run ({REPORT} missing or unreadable); "
            "choose a new directory, or pass --force to write into it anyway."
        )
    if held != run_identity(report):
        changed = _first_difference(held, run_identity(report))
        raise RunDirInUse(
            f"--out {path} holds a different run ({changed}); choose a new directory, "
            "or pass --force to overwrite it."
        )
    return path


def write_run_dir(path, record, force=False, plots=True):
    """Write a run directory (see the module docstring) and return its path.

    Args:
        path: the output directory; checked with `check_run_dir` first.
        record: a `RunRecord` (or a backtest result, which is one).
        force: overwrite a directory holding another run. Defaults to `False`.
        plots: also draw `equity.png`, `forecasts.png` and `training.png`. Defaults to `True`.
    """
    path = check_run_dir(path, record.report, force=force)
    _write_json(record.report, path / REPORT)
    _write_frame(record.equity, path / EQUITY, index=True)
    _write_frame(record.trades, path / TRADES, index=False)
    _write_frame(record.forecasts, path / FORECASTS, index=True)
    # Written even when empty: `[]` says "nothing was fit" and replaces a forced-over run's.
    _write_json(record.training, path / TRAINING)
    _write_frame(monthly_returns_frame(record.equity, start_value(record.report, record.equity)),
                 path / MONTHLY, index=False)
    if plots:
        write_plots(path, record)
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
    from .html_report import write_html_report
    from .plotting import plot_equity, plot_forecasts, plot_training_loss

    path = Path(path)
    data = record.report.get("data", {})
    market = {"symbol": data.get("symbol"), "interval": data.get("interval"),
              "report": record.report}
    plot_equity(record.equity, path / EQUITY_PNG, trades=record.trades,
                training=record.training, log=log, **market)
    plot_forecasts(record.forecasts, path / FORECASTS_PNG, trades=record.trades, **market)
    write_html_report(path / REPORT_HTML, record.equity, forecasts=record.forecasts,
                      trades=record.trades, report=record.report)
    if not record.training:
        # A replay without history has no loss to draw; a loss plot left by a forced-over
        # run would describe fits this run never made.
        (path / TRAINING_PNG).unlink(missing_ok=True)
        return [path / EQUITY_PNG, path / FORECASTS_PNG, path / REPORT_HTML]
    plot_training_loss(record.training, path / TRAINING_PNG, **market)
    return [path / EQUITY_PNG, path / FORECASTS_PNG, path / TRAINING_PNG, path / REPORT_HTML]


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
