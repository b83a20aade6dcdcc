"""The sweep's output directory while it runs: one small file per finished cell.

`DIR/spec.toml` is the spec as run; `DIR/cells/<key>.npz` holds one cell's record (JSON) and
per-bar returns, written to a temporary name and renamed, so an interrupted sweep (Ctrl-C, a
killed client) leaves only whole files (and temporaries the next run removes), and a re-run
computes only the cells without one. A
failed cell is stored too (for the report) but computed again by the next run. The key
digests everything that decides the cell (data, period, seed, params, broker), so a spec that
grows (more seeds, another threshold) reuses every cell it shares with the last run.
"""

import io
import json
import logging
from pathlib import Path

import numpy as np

from .._atomic_files import remove_leftovers, write_file
from ..errors import InvalidParameter

__all__ = ["SweepDir"]

log = logging.getLogger(__name__)

CELLS = "cells"


class SweepDir:
    """A sweep output directory.

    Args:
        path: the directory (created when missing).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.cells = self.path / CELLS

    def prepare(self, spec_text):
        """Create the directory and write `spec.toml`; refuse a path that is a file."""
        if self.path.exists() and not self.path.is_dir():
            raise InvalidParameter(f"--out {self.path} is a file; give a directory.")
        if (self.path.is_dir() and any(self.path.iterdir())
                and not (self.path / "spec.toml").is_file()):
            raise InvalidParameter(f"--out {self.path} holds files that are no sweep; give a "
                                   "new directory, or the directory of the sweep to resume.")
        try:
            self.cells.mkdir(parents=True, exist_ok=True)
            remove_leftovers(self.cells, ".*-*")
            write_file(self.path / "spec.toml", spec_text.encode())
        except OSError as error:
            raise InvalidParameter(f"Cannot write the sweep directory {self.path}: {error}. "
                                   "Give a writable --out.") from None

    def store(self, result):
        """Write one cell result (as returned by `run_walk_forward`)."""
        record = {name: value for name, value in result.items() if name != "returns"}
        returns = result["returns"] if result["returns"] is not None else np.empty(0)
        data = io.BytesIO()
        np.savez(data, record=np.array(json.dumps(record, default=_json_default)),
                 returns=np.asarray(returns, dtype=np.float64))
        write_file(self.cells / f"{result['key']}.npz", data.getvalue())

    def load(self, key):
        """The stored result of cell `key`, or None: missing, or damaged (a truncated file, a
        record that is no cell result of `key`), which is then removed with a warning."""
        path = self.cells / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                record = _checked(json.loads(str(stored["record"])), key)
                returns = stored["returns"] if record["status"] == "ok" else None
            if returns is not None and (returns.ndim != 1 or returns.dtype != np.float64):
                raise ValueError(f"returns of shape {returns.shape} and type {returns.dtype}")
        except Exception as error:  # noqa: BLE001 - whatever cannot be read is computed again
            log.warning("cell result %s is damaged (%s); removed, its cell is computed again",
                        path, error)
            path.unlink(missing_ok=True)
            return None
        record["returns"] = returns
        return record

    def all_runs(self, counts):
        """`counts` (`walk_forwards`, `cells_run`, `cells_reused` of this run) added to those
        of every earlier run into this directory, as its `summary.json` holds them (a damaged
        one counts as no earlier run, with a warning)."""
        path = self.path / "summary.json"
        if not path.is_file():
            return dict(counts)
        try:
            timing = json.loads(path.read_text(encoding="utf-8"))["timing"]
            # A summary written before `all_runs` existed holds its own run's counts only.
            before = timing.get("all_runs", timing)
            if not all(_count(before.get(name)) for name in counts):
                raise ValueError("no run counts in its timing")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("%s is damaged (%s); `all_runs` counts this run only", path, error)
            return dict(counts)
        return {name: before[name] + value for name, value in counts.items()}

    def finished(self, keys):
        """The keys among `keys` with an `ok` result stored."""
        done = set()
        for key in keys:
            record = self.load(key)
            if record is not None and record["status"] == "ok":
                done.add(key)
        return done


def _checked(record, key):
    """`record` if it is a result of cell `key` with every field the report reads; else
    ValueError."""
    if not isinstance(record, dict) or record.get("key") != key:
        raise ValueError(f"its record is no result of cell {key}")
    report = record.get("report")
    readable = (
        record.get("status") in ("ok", "failed") and isinstance(record.get("error"), str)
        and all(name in record and isinstance(record[name], (int, float, type(None)))
                for name in ("train_s", "total_s"))
        and (record["status"] == "failed" or isinstance(report, dict) and all(
            isinstance(report.get(part, {}), dict) for part in ("metrics", "benchmark",
                                                                "forecast"))))
    if not readable:
        raise ValueError("its record lacks a field the report reads")
    return record


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
