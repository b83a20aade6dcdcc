"""Where JAX's compilation cache goes, for the processes lstm-bt starts itself.

`compile_cache_environment` decides in Python, before any JAX import, so these tests
need no JAX: the backend is only named. That a second process really reads the programs, with
byte-identical forecasts, is in test_other_backends.py (under JAX).
"""

import os

import pytest

from helpers.fs_faults import read_only_dir
from lstm_bt.models import compile_cache


@pytest.fixture
def under_jax(monkeypatch):
    monkeypatch.setattr(compile_cache, "backend_name", lambda: "jax")
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)


def test_the_cache_lives_in_the_data_directory_and_keeps_every_program(tmp_path, under_jax):
    env = compile_cache.compile_cache_environment(tmp_path / "data")
    cache = tmp_path / "data" / compile_cache.COMPILE_CACHE_DIR
    assert env == {"JAX_COMPILATION_CACHE_DIR": str(cache.absolute()),
                   "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                   "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": ""}
    assert not (tmp_path / "data").exists(), "made by JAX at its first compile, not before"


def test_the_users_own_cache_directory_or_another_backend_sets_nothing(tmp_path, monkeypatch,
                                                                       under_jax):
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "theirs"))
    assert compile_cache.compile_cache_environment(tmp_path) == {}
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    monkeypatch.setattr(compile_cache, "backend_name", lambda: "tensorflow")
    assert compile_cache.compile_cache_environment(tmp_path) == {}
    assert not (tmp_path / compile_cache.COMPILE_CACHE_DIR).exists(), "nothing made for nothing"


def test_a_cache_directory_that_cannot_be_made_or_written_is_left_off(tmp_path, under_jax,
                                                                      caplog):
    (tmp_path / "file").write_text("a data directory that is a file")
    with caplog.at_level("INFO", logger=compile_cache.__name__):
        assert compile_cache.compile_cache_environment(tmp_path / "file") == {}
    assert "compilation cache is off" in caplog.text
    with read_only_dir(tmp_path / "read-only") as read_only:
        assert compile_cache.compile_cache_environment(read_only / "data") == {}  # cannot be made
    (tmp_path / "data" / compile_cache.COMPILE_CACHE_DIR).mkdir(parents=True)
    with read_only_dir(tmp_path / "data" / compile_cache.COMPILE_CACHE_DIR):
        assert compile_cache.compile_cache_environment(tmp_path / "data") == {}  # made, read-only


def test_the_command_changes_no_environment_of_a_caller_that_runs_it_in_process(tmp_path,
                                                                               under_jax):
    from lstm_bt.cli import main

    before = dict(os.environ)
    # Refused after the point where the command's own process would take the cache.
    assert main(["backtest", "--demo", "--csv", str(tmp_path / "x.csv"), "--data-dir",
                 str(tmp_path)]) == 2
    assert dict(os.environ) == before
