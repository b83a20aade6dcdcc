"""Real file-system faults for tests: a read-only directory and a full disk.

Both are real mounts (a read-only bind mount, a tiny tmpfs), so the code under test meets the
kernel's own EROFS and ENOSPC, not a patched function. Mounting needs root with CAP_SYS_ADMIN;
without it the test is skipped with the reason. (A chmod would not do: root ignores it.)
"""

import contextlib
import subprocess

import pytest


def _mount(*args):
    done = subprocess.run(["mount", *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or done.returncode}); "
                    "this test needs root with CAP_SYS_ADMIN")


@contextlib.contextmanager
def read_only_dir(path):
    """`path` (created) as a read-only bind mount of itself for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("--bind", path, path)
    try:
        _mount("-o", "remount,bind,ro", path)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def small_disk(path, size="64k"):
    """A tmpfs of `size` at `path` (created) for the duration: writes past it fail ENOSPC."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", path)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
