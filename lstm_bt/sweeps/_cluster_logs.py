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
  `silence_logs` intends, and nothing while it shuts down.

Each change is undone when the sweep ends; the root logger and its handlers are not touched.
"""

import logging
import threading
from contextlib import contextmanager, suppress

from distributed.client import ClosedClientError

__all__ = ["RESTART_TOPIC", "restart_notes", "log_level"]

log = logging.getLogger(__name__)

RESTART_TOPIC = "lstm-bt-restart"
# What a nanny logs while it replaces a worker process (distributed/nanny.py).
_NANNY_RESTART_LINES = ("Restarting worker", "Worker process still alive after")


@contextmanager
def restart_notes(client):
    """Log each planned worker restart as one info line; hide the nannies' warnings about it."""
    nanny = logging.getLogger("distributed.nanny")
    planned = _PlannedRestarts()

    def announced(event):
        _, message = event
        planned.expect()
        log.info("worker %s: replaced by a fresh process after %d walk-forward(s), as planned "
                 "(restart_workers_every)", message["worker"], message["walk_forwards"])

    client.subscribe_topic(RESTART_TOPIC, announced)
    nanny.addFilter(planned)
    try:
        yield
    finally:
        nanny.removeFilter(planned)
        with suppress(ClosedClientError):  # the error that closed it is the one to see
            client.unsubscribe_topic(RESTART_TOPIC)


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


@contextmanager
def log_level(level, name="distributed"):
    """Raise logger `name` to `level` for the block (never lower it); restored afterwards."""
    logger = logging.getLogger(name)
    before = logger.level
    if logger.getEffectiveLevel() < level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)
