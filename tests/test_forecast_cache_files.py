"""The forecast cache on disk: what a killed write leaves is cleaned, entries follow the
user's umask, and a damaged manifest is a miss, never a crash."""

import json
import os
import stat
import subprocess
import time
from datetime import datetime
from types import SimpleNamespace

import pandas as pd

from lstm_bt.run.forecast_cache import ForecastCache

KEY = "ab" * 32


def _finished_run():
    """What `store` reads from a strategy after a run (a replay-sized one: no model)."""
    frame = pd.DataFrame({"datetime": pd.date_range("2024-01-01", periods=3, freq="h"),
                          "predicted_close": [1.0, 2.0, 3.0]})
    return SimpleNamespace(forecasts_frame=lambda: frame, model_=None,
                           training_history=[{"window_end": datetime(2024, 1, 1), "loss": [1]}])


def _dead_pid():
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_leftovers_of_killed_writes_are_removed_and_writes_in_progress_kept(tmp_path):
    cache = ForecastCache(tmp_path)
    dead = tmp_path / f".{KEY[:12]}-{_dead_pid()}-0badf00d"  # its process is gone
    old = tmp_path / ".cdcdcdcdcdcd-k3j2h1g0"                  # an older format, an hour old
    running = tmp_path / f".efefefefefef-{os.getpid()}-12345678"
    fresh = tmp_path / ".efefefefefef-a1b2c3d4"
    for path in (dead, old, running, fresh):
        path.mkdir()
        (path / "forecasts.npz").write_bytes(b"half written")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))

    assert cache.store(KEY, _finished_run()) == tmp_path / KEY
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([KEY, running.name, fresh.name])
    assert cache.load(KEY).forecasts.tolist() == [1.0, 2.0, 3.0]


def test_entries_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        entry = ForecastCache(tmp_path / "cache").store(KEY, _finished_run())
    finally:
        os.umask(old)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in entry.iterdir()} == {0o644}


def test_a_manifest_that_is_valid_json_but_no_object_is_a_miss_and_deleted(tmp_path):
    cache = ForecastCache(tmp_path)
    entry = cache.store(KEY, _finished_run())
    (entry / "manifest.json").write_text(json.dumps(["not", "an", "object"]))
    assert cache.load(KEY) is None
    assert not entry.exists()
