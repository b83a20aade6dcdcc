"""Atomic writes: whole files or none, the user's umask, and what a killed writer left removed."""

import errno
import os
import stat
import subprocess

import numpy as np
import pytest

from helpers.fs_faults import small_disk
from lstm_bt._atomic_files import remove_leftovers, temp_dir, write_file
from lstm_bt.sweeps.results import SweepDir


def _dead_pid():
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_written_file_follows_the_umask_and_leaves_no_temporary(tmp_path):
    old = os.umask(0o027)
    try:
        write_file(tmp_path / "a.txt", b"one")
        write_file(tmp_path / "a.txt", b"two")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_bytes() == b"two"
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_write_that_fails_keeps_the_old_file_and_no_temporary(tmp_path):
    with small_disk(tmp_path / "disk", size="64k") as disk:
        write_file(disk / "a.bin", b"old")
        with pytest.raises(OSError) as caught:
            write_file(disk / "a.bin", b"x" * 1_000_000)
        assert caught.value.errno == errno.ENOSPC
        assert [p.name for p in disk.iterdir()] == ["a.bin"]
        assert (disk / "a.bin").read_bytes() == b"old"


def test_a_temp_dir_is_removed_when_its_block_raises(tmp_path):
    with pytest.raises(RuntimeError):
        with temp_dir(tmp_path, ".build-") as building:
            (building / "half").write_text("x")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_only_leftovers_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / f".a.{_dead_pid()}-0badf00d"
    alive = tmp_path / f".b.{os.getpid()}-12345678"
    dead.write_bytes(b"half")
    alive.mkdir()
    assert remove_leftovers(tmp_path, ".*-*") == [dead]
    assert [p.name for p in tmp_path.iterdir()] == [alive.name]


def test_a_sweep_cell_is_written_whole_with_the_umask_and_a_dead_writers_temporary_removed(
        tmp_path):
    sweep = SweepDir(tmp_path / "out")
    sweep.prepare("[data]\n")
    torn = sweep.cells / f".k1.npz.{_dead_pid()}-0badf00d"
    torn.write_bytes(b"torn")
    old = os.umask(0o022)
    try:
        sweep.prepare("[data]\n")  # a resumed sweep
        sweep.store({"key": "k1", "status": "ok", "error": "", "returns": np.array([0.5, -0.25]),
                     "report": {"metrics": {}, "benchmark": {}, "forecast": {}},
                     "train_s": 1.0, "total_s": 1.5})
    finally:
        os.umask(old)
    assert [p.name for p in sweep.cells.iterdir()] == ["k1.npz"]
    assert stat.S_IMODE((sweep.cells / "k1.npz").stat().st_mode) == 0o644
    assert sweep.load("k1")["returns"].tolist() == [0.5, -0.25]
