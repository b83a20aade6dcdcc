"""A session's run-directory files in its state directory, kept current.

`report.json`, `equity.csv`, `trades.csv`, `forecasts.csv` and `training.json`, written by
the run directory's own writers (`run.run_dir`), so they read as a backtest's do: `lstm-bt
plot STATE_DIR` draws the plots and report.html from them. Each file is replaced whole (written
beside, then renamed), so a reader or a killed session never leaves half a file.
"""

import os
from pathlib import Path

from ..run.run_dir import EQUITY, FORECASTS, REPORT, TRADES, TRAINING, write_frame, write_json

__all__ = ["write_session_files", "remove_partial_files"]

_PARTIAL = ".partial"


def write_session_files(state_dir, record):
    """Write `record` (a `RunRecord`) into `state_dir`, `report.json` last."""
    state_dir = Path(state_dir)
    _replace(state_dir / EQUITY, lambda path: write_frame(record.equity, path, index=True))
    _replace(state_dir / TRADES, lambda path: write_frame(record.trades, path, index=False))
    _replace(state_dir / FORECASTS,
             lambda path: write_frame(record.forecasts, path, index=True))
    _replace(state_dir / TRAINING, lambda path: write_json(record.training, path))
    _replace(state_dir / REPORT, lambda path: write_json(record.report, path))


def remove_partial_files(state_dir):
    """Delete files a killed session left half-written."""
    for path in Path(state_dir).glob(f"*{_PARTIAL}"):
        path.unlink(missing_ok=True)


def _replace(path, write):
    partial = path.with_name(path.name + _PARTIAL)
    write(partial)
    os.replace(partial, path)
