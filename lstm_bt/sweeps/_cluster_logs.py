"""What a sweep's Dask cluster shows the user: a planned worker restart is one info line.

`distributed` logs through the application's handlers when the application configured
logging before importing it (as the command line does), at its own level (info): a worker
restart would print some twenty lines, one of them a warning from the nanny
("Restarting worker"), though nothing went wrong. Here, while a sweep runs:

- the worker plugin announces each planned restart as an event (`RESTART_TOPIC`); the client
  logs it as one info line, wherever the worker runs;
- the nannies in this process (a LocalCluster's) keep their warnings for unplanned restarts
  (a worker that died) and drop those of the announced ones;
- the sweep's own LocalCluster logs only warnings (errors when quiet), as Dask's
  `silence_logs` intends, and nothing while it shuts down;
- the sweep returns once the restarts it set off are over (at most `RESTART_WAIT_S`): the
  last worker due for one restarts after the last result. On a cluster the caller brought
  (`client=`) that would otherwise leave its nanny's warning, and its worker missing, for
  later; on the sweep's own LocalCluster, closed right after, a nanny closed in the middle of
  the restart starts the fresh process once closed (Dask's `Nanny.restart` does not check),
  and that process waits for the gone scheduler until the interpreter exits, which reaps it
  ("reaping stray process", sometimes "exit status was already read").

Each change is undone when the sweep ends; the root logger and its handlers are not touched.
"""

import logging
import threading
import time
from contextlib import contextmanager, suppress

from distributed.client import ClosedClientError

__all__ = ["RESTART_TOPIC", "restart_notes", "log_level"]

log = logging.getLogger(__name__)

RESTART_TOPIC = "lstm-bt-restart"
RESTART_WAIT_S = 30.0
# What a nanny logs while it replaces a worker process (distributed/nanny.py).
_NANNY_RESTART_LINES = ("Restarting worker", "Worker process still alive after")


@contextmanager
def restart_notes(client, wait=False):
    """Log each planned worker restart as one info line; hide the nannies' warnings about it.

    With `wait`, a block that ends normally then waits (at most `RESTART_WAIT_S`) until no
    worker is due for a restart and the cluster has as many workers as when it began.
    """
    nanny = logging.getLogger("distributed.nanny")
    planned = _PlannedRestarts()
    workers = len(client.scheduler_info()["workers"]) if wait else 0

    def announced(event):
        _, message = event
        if _nanny_here(message["worker"]):  # its nanny's warnings are logged in this process
            planned.expect()
        log.info("worker %s: replaced by a fresh process after %d walk-forward(s), as planned "
                 "(restart_workers_every)", message["worker"], message["walk_forwards"])

    client.subscribe_topic(RESTART_TOPIC, announced)
    nanny.addFilter(planned)
    try:
        yield
        if wait:
            _await_restarts(client, workers)
    finally:
        nanny.removeFilter(planned)
        with suppress(ClosedClientError):  # the error that closed it is the one to see
            client.unsubscribe_topic(RESTART_TOPIC)


def _nanny_here(address):
    from distributed import Nanny

    return any(nanny.worker_address == address for nanny in list(Nanny._instances))


def _await_restarts(client, workers):
    deadline = time.monotonic() + RESTART_WAIT_S
    while time.monotonic() < deadline:
        now = client.scheduler_info()["workers"].values()
        if len(now) >= workers and all(w["status"] != "closing_gracefully" for w in now):
            return
        time.sleep(0.1)


class _PlannedRestarts(logging.Filter):
    """Drops the nanny's restart warnings, once for each announced restart."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._pending = 0

    def expect(self):
        with self._lock:
            self._pending += 1

    def filter(self, record):
        message = record.getMessage()
        if not message.startswith(_NANNY_RESTART_LINES):
            return True
        with self._lock:
            if not self._pending:
                return True  # a worker that died: the user should hear of it
            if message.startswith("Restarting worker"):  # the nanny's last line of it
                self._pending -= 1
        return False


_levels_lock = threading.Lock()
_raised = {}  # logger name -> (its level before the first open block, effective, open levels)


@contextmanager
def log_level(level, name="distributed"):
    """Raise logger `name` to `level` for the block (never lower it); restored afterwards.

    Blocks may nest or overlap (two sweeps in threads): the logger stays at the highest level
    of the blocks still open and goes back to its own level when the last one ends.
    """
    logger = logging.getLogger(name)
    with _levels_lock:
        before, effective, levels = _raised.setdefault(
            name, (logger.level, logger.getEffectiveLevel(), []))
        levels.append(level)
        _set(logger, before, effective, levels)
    try:
        yield
    finally:
        with _levels_lock:
            levels.remove(level)
            _set(logger, before, effective, levels)
            if not levels:
                del _raised[name]


def _set(logger, before, effective, levels):
    top = max(levels, default=logging.NOTSET)
    logger.setLevel(top if top > effective else before)
