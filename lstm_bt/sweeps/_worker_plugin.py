"""Worker plugins of a sweep: cap backend threads; restart a worker every N walk-forwards."""

import asyncio
import logging
import os
import time
from contextlib import suppress

from distributed.core import Status
from distributed.diagnostics.plugin import WorkerPlugin

from ._cluster_logs import RESTART_TOPIC

__all__ = ["CapThreads", "RestartEvery", "WALK_FORWARD_PREFIX", "quiet_exit"]

WALK_FORWARD_PREFIX = "walk-forward-"
# How long a worker due for a restart waits for the client to collect its last result, once
# computed. Past it the scheduler's retirement copies the result to another worker, if any.
DRAIN_S = 60.0
_DRAIN_POLL_S = 0.05
_RUNNING = frozenset({"executing", "long-running", "resumed"})
_RESULTS = frozenset({"memory", "flight"})
_CLOSING = frozenset({Status.closing, Status.closed, Status.failed})


class CapThreads(WorkerPlugin):
    """Set the thread variables a worker lacks, before its first task imports TensorFlow.

    A LocalCluster started by the sweep has them from its environment already; a remote
    worker (`dask worker tcp://...`) gets cores // task threads each. A worker that imported
    TensorFlow before (another job's task) keeps the thread pools it has.
    """

    name = "lstm-bt-cap-threads"
    idempotent = True

    def setup(self, worker):
        from ..models.backend import usable_cores
        from .execute import thread_environment

        threads = max(1, usable_cores() // max(1, worker.state.nthreads))
        for name, value in thread_environment(threads).items():
            os.environ.setdefault(name, value)


class RestartEvery(WorkerPlugin):
    """Restart the worker process after it has run `walk_forwards` walk-forwards.

    TensorFlow keeps some memory for every model a process trains (about 7 MB a tiny
    walk-forward, measured in benchmarks/README.md) and never gives it back; a fresh process
    is the only way to get it back. Once the N-th walk-forward starts, the worker takes no
    other task (status `closing_gracefully`, as in Dask's own retirement); when that one has
    finished and the client has collected its result, the scheduler retires the worker (a
    task it had already sent there runs elsewhere, not counted as a failure) and its nanny
    replaces the process with a fresh one, which gets this plugin again with a count of 0.
    No walk-forward is cut short. A worker without a nanny (`dask worker --no-nanny`) is
    never restarted: nothing would start it again.

    Args:
        walk_forwards: walk-forwards per worker process; 0 never restarts.
    """

    name = "lstm-bt-restart-every"

    def __init__(self, walk_forwards):
        self.walk_forwards = walk_forwards
        self.started = 0
        self._worker = None

    def setup(self, worker):
        self._worker = worker
        self.started = 0

    def transition(self, key, start, finish, **kwargs):
        if (not self.walk_forwards or finish != "executing"
                or not str(key).startswith(WALK_FORWARD_PREFIX)):
            return
        self.started += 1
        if self.started == self.walk_forwards and self._worker.nanny:
            # Not from inside the worker's state machine: on its event loop, right after.
            self._worker.loop.add_callback(self._restart)

    async def _restart(self):
        worker = self._worker
        worker.status = Status.closing_gracefully  # no other task starts or is sent here
        while self._holds(_RUNNING):  # the N-th walk-forward, however long it takes
            await asyncio.sleep(_DRAIN_POLL_S)
        deadline = time.monotonic() + DRAIN_S
        while self._holds(_RESULTS) and time.monotonic() < deadline:
            await asyncio.sleep(_DRAIN_POLL_S)
        if worker.status in _CLOSING:  # the cluster is shutting down: nothing to restart
            return
        # One line in the client (`_cluster_logs.restart_notes`), wherever this worker runs.
        worker.log_event(RESTART_TOPIC, {"worker": worker.address,
                                         "walk_forwards": self.started})
        try:
            await worker.scheduler.retire_workers(
                workers=[worker.address], close_workers=False, remove=True,
                stimulus_id=f"lstm-bt-restart-{time.time()}")
        except (OSError, RuntimeError):  # "ConnectionPool is closed": shut down meanwhile
            if worker.status in _CLOSING:
                return
            raise
        quiet_exit()
        # The nanny stops this process (killing it if it has not exited 4 s later: a process
        # that imported TensorFlow can be slow to) and starts a fresh one.
        with suppress(OSError):  # the call's connection closes with this process
            async with worker.rpc(worker.nanny) as nanny:
                await nanny.restart(reason="lstm-bt-restart-every")

    def _holds(self, states):
        return any(task.state in states for task in self._worker.state.tasks.values())


def quiet_exit(dask_worker=None):
    """In a worker process about to exit (restarting, or its cluster closing): drop the
    errors Dask logs as it closes (`_exit_noise`). `dask_worker` lets `Client.run` call it."""
    for name in ("distributed.nanny", "distributed.worker"):
        logging.getLogger(name).addFilter(_exit_noise)


def _exit_noise(record):
    """False for the errors `distributed` logs in a worker closing itself to restart (Dask's
    lifetime restarts log them too): the scheduler's echo of `closing_gracefully` arriving
    after the worker began closing, the nanny's stop-queue thread reading a queue closed under
    it as the process exits ("died unexpectedly": it did not), and a heartbeat still waiting
    for the scheduler's answer when the closing worker closes its connections (an error with
    a traceback, so shown even at the quiet level; more often on a loaded machine, where a
    heartbeat takes longer)."""
    message = record.getMessage()
    return not (message in _EXIT_ERRORS
                or message.startswith("Invalid Worker.status transition: Status.closing ->"))


_EXIT_ERRORS = frozenset({"Worker process died unexpectedly",
                          "Failed to communicate with scheduler during heartbeat."})
