"""A run directory's safety: checked for another run, held while the run writes, written whole.

A directory is reused only for the same run (same `data` and `params`) unless forced. A run
holds it from start to finish (`claim_run_dir`, a lock the kernel drops with the process).
The files (`run_files`) are built beside it and moved in with `report.json` last, so a
directory with a `report.json` is complete.
"""

import errno
import glob
import json
import logging
import os
from pathlib import Path

from .._atomic_files import remove_leftovers, temp_dir
from ..errors import LstmBtError
from .run_files import (REPORT, RUN_FILES, RunRecord, read_run_dir, to_json_value, write_plots,
                        write_run_files)

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


class RunDirInUse(LstmBtError):
    """The output directory holds a different run (or other files)."""


def run_identity(report):
    """The part of a report that says which run it is: its data and every param."""
    return to_json_value({"data": report.get("data"), "params": report.get("params")})


def check_run_dir(path, report, force=False):
    """Make sure `path` may receive the run described by `report` (nothing is created).

    Fine: a missing or empty directory, or one holding the same `data` and `params`. Anything
    else raises `RunDirInUse` unless `force` (run files are then replaced, others kept); a
    file in the way always does.
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
    """A run's hold on its output directory until `release()` (or the end of a `with`): an
    exclusive `flock` on `.<name>.lstm-bt.lock` beside it, dropped by the kernel with the
    process."""

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
    """`check_run_dir`, then hold `path`: a `RunDirClaim`, or `RunDirInUse` when another run
    holds it."""
    path = check_run_dir(path, report, force=force)
    return RunDirClaim(path).acquire()


def write_run_dir(path, record, force=False, plots=True):
    """Write `record` (a `RunRecord`) as a run directory at `path` and return the path.

    A run already there stays whole until the new one replaces it; a write that fails leaves
    nothing that looks complete.

    Args:
        path: the output directory; checked with `check_run_dir` first.
        record: a `RunRecord`, e.g. a backtest result.
        force: overwrite a directory holding another run. Defaults to `False`.
        plots: also draw the pictures. Defaults to `True`.
    """
    path = check_run_dir(path, record.report, force=force)
    target = Path(os.path.abspath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    with temp_dir(target.parent, _build_prefix(target)) as building:
        write_run_files(building, record, plots=plots)
        _move_into_place(building, target)
    log.info("wrote run directory %s", path)
    return path


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
