"""Files and directories built beside their final place and renamed into it.

Readers see a whole file or directory, or none. What is built gets the user's umask (unlike
`tempfile`, which makes it private), and its temporary name carries the builder's process id, so
what a killed process left can be told from work in progress and removed.
"""

import contextlib
import logging
import os
import re
import secrets
import shutil
import time
from pathlib import Path

__all__ = ["temp_dir", "replacing", "write_file", "remove_leftovers"]

log = logging.getLogger(__name__)

# A temporary older than this is a leftover even if its process id is alive again (reused).
LEFTOVER_AGE_S = 15 * 60
_OWNER = re.compile(r"[.-](\d{1,9})-[0-9a-z]+$")


@contextlib.contextmanager
def temp_dir(parent, prefix):
    """Create `parent/<prefix><pid>-<random>` and yield its path; remove it if the block
    raises. `parent` must be on the final place's file system."""
    while True:
        path = _temp_name(parent, prefix)
        try:
            os.mkdir(path)  # mode 0o777 less the umask
            break
        except FileExistsError:
            continue
    try:
        yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside `path` to write; on success it replaces `path`, on an
    error it is removed. Files made there get the umask's mode."""
    path = Path(path)
    temp = _temp_name(path.parent, f".{path.name}.")
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_file(path, data):
    """Write the bytes `data` to `path` through `replacing`."""
    with replacing(path) as temp:
        temp.write_bytes(data)


def remove_leftovers(parent, pattern, max_age_s=LEFTOVER_AGE_S):
    """Delete and return the temporaries matching `pattern` (a glob) in `parent` whose process
    is gone or that are older than `max_age_s` (a process id may have been reused)."""
    now = time.time()
    removed = []
    for path in Path(parent).glob(pattern):
        owner = _OWNER.search(path.name)
        try:
            age = now - path.lstat().st_mtime
        except OSError:
            continue
        if age > max_age_s or (owner is not None and not _alive(int(owner[1]))):
            log.info("removing %s, left by a write that did not finish", path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _temp_name(parent, prefix):
    return Path(parent) / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
