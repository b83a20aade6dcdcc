"""Temporary directories built beside their final place, then renamed into it.

The run directory and the forecast cache both write into a temporary sibling and rename it, so
readers see a whole directory or none. `tempfile.mkdtemp` would make it mode 0700 (and the
renamed directory would keep that, whatever the user's umask), and a killed process would leave
it behind for good. Here the directory is made with the umask's mode and named after the
process that builds it, so leftovers can be told from work in progress.
"""

import os
import secrets
import time
from pathlib import Path

__all__ = ["make_temp_dir", "stale_temp_dirs"]


def make_temp_dir(parent, prefix):
    """Create and return `parent/<prefix><pid>-<random>`, mode 0777 less the umask.

    Raises:
        OSError: `parent` cannot hold it (missing, read-only, full, a file).
    """
    parent = Path(parent)
    while True:
        candidate = parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.mkdir(candidate)  # the mode argument's default 0o777 is masked by the umask
        except FileExistsError:
            continue
        return candidate


def stale_temp_dirs(parent, pattern, max_age_s):
    """The temporary directories matching `pattern` (a glob) in `parent` that were left by a
    process that is gone, or are older than `max_age_s` seconds (a process id may have been
    reused since; a name without one is judged by age alone)."""
    now = time.time()
    stale = []
    for path in Path(parent).glob(pattern):
        parts = path.name.rsplit("-", 2)
        owner = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        if age > max_age_s or (owner is not None and not _alive(owner)):
            stale.append(path)
    return stale


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
