"""A session's run-directory files in its state directory, kept current.

`report.json`, `equity.csv`, `trades.csv`, `forecasts.csv` and `training.json`, written by
the run directory's own writers (`run.run_files`), so they read as a backtest's do: `lstm-bt
plot STATE_DIR` draws the plots and report.html from them. Each file is replaced whole
(`_atomic_files.replacing`), so a reader or a killed session never sees half a file.
"""

from pathlib import Path

from .._atomic_files import remove_leftovers, replacing
from ..run.run_files import EQUITY, FORECASTS, REPORT, TRADES, TRAINING, write_frame, write_json

__all__ = ["write_session_files", "remove_partial_files"]

_FILES = (EQUITY, TRADES, FORECASTS, TRAINING, REPORT)


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
    for name in _FILES:
        remove_leftovers(state_dir, f".{name}.*")


def _replace(path, write):
    with replacing(path) as temp:
        write(temp)
