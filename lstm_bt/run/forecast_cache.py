"""Trained models and their forecasts, stored so a re-run with other trading params trains nothing.

Forecasts depend on the bars, the schedule, the model, its seed, the strategy's code and the
backend, never on trading params or the broker: a run changing only those replays them.
`<data dir>/forecast_cache/<key>/` holds `forecasts.npz`, `training_history.json`,
`model.keras` and `manifest.json` (each file's size and sha256). An entry is written whole
(`_atomic_files`); one that fails its manifest is deleted and rebuilt, never trusted; a cache
that cannot be written costs the next run time, never this run's result.
"""

import hashlib
import inspect
import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic_files import remove_leftovers, temp_dir

__all__ = ["ForecastCache", "CachedRun", "cache_key"]

log = logging.getLogger(__name__)

CACHE_DIR = "forecast_cache"
FORECASTS = "forecasts.npz"
HISTORY = "training_history.json"
MODEL = "model.keras"
MANIFEST = "manifest.json"
# Bumped when the entry format changes, so old entries miss instead of being misread.
FORMAT = 1

_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class CachedRun:
    """A cache entry read back: predicted closes by bar open time, the run's
    `training_history`, and its last model's `.keras` file (None if it kept none)."""

    forecasts: pd.Series
    training_history: list
    model_path: Path = None


def cache_key(frame, strategy, params, seed, start, backend):
    """The hex digest naming the forecasts of one walk-forward.

    Args:
        frame: the exact bars fed to the strategy, warm-up included.
        strategy: the strategy class; its source and its parents' are hashed.
        params: every strategy param used; `strategy.forecast_params` picks those hashed.
        seed: the model seed.
        start: the first tradable bar.
        backend: the Keras backend name.
    """
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    described = {
        "format": FORMAT,
        "params": {name: repr(value) for name, value in
                   sorted(strategy.forecast_params(params).items())},
        "seed": seed,
        "start": pd.Timestamp(start).isoformat(),
        "strategy": [_class_source(cls) for cls in _strategy_lineage(strategy)],
        "models_source": _models_source_digest(),
        "backend": backend,
        "versions": {name: _version(name) for name in ("keras", backend)},
    }
    digest.update(json.dumps(described, sort_keys=True).encode())
    return digest.hexdigest()


class ForecastCache:
    """Forecast cache entries in one directory.

    Args:
        root: the cache directory, usually `resolve_data_dir(...) / "forecast_cache"`.
    """

    def __init__(self, root):
        self.root = Path(root)

    @classmethod
    def in_data_dir(cls, data_dir=None):
        """The cache of a data directory (`settings.resolve_data_dir`); `InvalidParameter`,
        before any training, when it is a file."""
        from ..settings import resolve_data_dir
        from ..errors import InvalidParameter

        directory = resolve_data_dir(data_dir)
        if directory.exists() and not directory.is_dir():
            raise InvalidParameter(
                f"`data_dir` {directory} is a file, not a directory; choose a directory for "
                "the kline store and the forecast cache.")
        return cls(directory / CACHE_DIR)

    def entry_dir(self, key):
        """Where the entry `key` lives (it may not exist)."""
        return self.root / key

    def load(self, key):
        """The entry `key`, or None when there is none or it fails its checks (then deleted)."""
        entry = self.entry_dir(key)
        if not entry.is_dir():
            return None
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
            if not isinstance(manifest, dict):
                raise ValueError(f"{MANIFEST} holds a {type(manifest).__name__}, not an object")
            if manifest.get("key") != key or manifest.get("format") != FORMAT:
                raise ValueError("manifest names another key or format")
            for name, expected in manifest["files"].items():
                if _file_digest(entry / name) != expected:
                    raise ValueError(f"{name} does not match its checksum")
            with np.load(entry / FORECASTS) as stored:
                index = pd.DatetimeIndex(stored["datetime_ns"].astype("datetime64[ns]"))
                forecasts = pd.Series(stored["predicted_close"], index=index,
                                      name="predicted_close")
            history = [dict(item, window_end=datetime.fromisoformat(item["window_end"]))
                       for item in json.loads((entry / HISTORY).read_text())]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("forecast cache entry %s is damaged (%s); deleting it and training "
                        "again", entry, error)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        model = entry / MODEL
        return CachedRun(forecasts, history, model if MODEL in manifest["files"] else None)

    def store(self, key, strategy, describe=None):
        """Write a trained strategy's forecasts, training history and last model as `key`, with
        `describe` (JSON-able) in the manifest; returns the entry, or None when it could not
        be written."""
        entry = self.entry_dir(key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            remove_leftovers(self.root, ".*-*")
            with temp_dir(self.root, f".{key[:12]}-") as building:
                frame = strategy.forecasts_frame()
                np.savez(building / FORECASTS,
                         datetime_ns=pd.DatetimeIndex(frame["datetime"]).as_unit("ns").asi8,
                         predicted_close=frame["predicted_close"].to_numpy(dtype=np.float64))
                history = [dict(item, window_end=item["window_end"].isoformat())
                           for item in strategy.training_history]
                (building / HISTORY).write_text(json.dumps(history))
                if getattr(strategy, "model_", None) is not None:
                    strategy.model_.save(building / MODEL)
                files = {path.name: _file_digest(path) for path in sorted(building.iterdir())}
                manifest = {"key": key, "format": FORMAT, "files": files,
                            "made_from": describe or {}}
                (building / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
                shutil.rmtree(entry, ignore_errors=True)
                os.rename(building, entry)
        except (OSError, ValueError) as error:
            log.warning("could not write forecast cache entry %s in %s: %s", key[:12],
                        self.root, error)
            return None
        log.info("forecast cache: stored %s", entry)
        return entry


def _strategy_lineage(strategy):
    """The strategy class and its parents that are LSTM strategies (not backtrader's own)."""
    from ..strategies import LSTMStrategy

    return [cls for cls in strategy.__mro__ if isinstance(cls, type)
            and issubclass(cls, LSTMStrategy)]


def _class_source(cls):
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        # No source (defined in a REPL): its name cannot tell two versions apart, so such a
        # class only ever hits the cache within the process that defined it.
        source = f"no source {id(cls)} {os.getpid()}"
    return f"{cls.__module__}.{cls.__qualname__}:{hashlib.sha256(source.encode()).hexdigest()}"


def _models_source_digest():
    """One digest of the model code (every module of `lstm_bt.models`)."""
    digest = hashlib.sha256()
    for path in sorted(_MODELS_DIR.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _file_digest(path):
    data = Path(path).read_bytes()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
