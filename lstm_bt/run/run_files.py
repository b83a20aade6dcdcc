"""The files of a run directory, written in a fixed format and read back.

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
files.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..report.table import monthly_returns_frame, start_value

__all__ = ["RunRecord", "RUN_FILES", "read_run_dir", "write_run_files", "write_plots",
           "write_frame", "write_json", "to_json_value"]

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


@dataclass
class RunRecord:
    """What a run directory holds, as Python objects: the `report` dict, the `equity`,
    `trades` and `forecasts` frames, and `training` (one dict per fit; empty when none)."""

    report: dict
    equity: pd.DataFrame
    trades: pd.DataFrame
    forecasts: pd.DataFrame
    training: list = field(default_factory=list)

    @property
    def stats(self):
        """The report as a labelled `pandas.Series`, units in the keys (`"Fees [quote]"`)."""
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
    """Turn numpy scalars, dates and paths into JSON types; NaN and inf become None (null)."""
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



def write_run_files(path, record, plots=True):
    """Write every file of `record` into the directory `path`, `report.json` last."""
    write_frame(record.equity, path / EQUITY, index=True)
    write_frame(record.trades, path / TRADES, index=False)
    write_frame(record.forecasts, path / FORECASTS, index=True)
    # Written even when empty: `[]` says "nothing was fit" and replaces a forced-over run's.
    write_json(record.training, path / TRAINING)
    write_frame(monthly_returns_frame(record.equity, start_value(record.report, record.equity)),
                 path / MONTHLY, index=False)
    if plots:
        write_plots(path, record)
    write_json(record.report, path / REPORT)


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


def write_json(value, path):
    """Write `value` as the run directory's JSON files are written (NaN as null, indented)."""
    text = json.dumps(to_json_value(value), indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def _read_training(path):
    """The fits in `training.json`, `window_end` as datetimes; none without the file."""
    if not path.exists():
        return []
    fits = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(fits, list) or not all(
        isinstance(fit, dict) and isinstance(fit.get("window_end"), str) for fit in fits
    ):
        raise ValueError(f"{TRAINING} is not a list of fits with a `window_end`")
    return [dict(fit, window_end=datetime.fromisoformat(fit["window_end"])) for fit in fits]


def write_frame(frame, path, index):
    """Write `frame` as the run directory's CSVs are written: a fixed float format, so the
    same run gives the same bytes."""
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
