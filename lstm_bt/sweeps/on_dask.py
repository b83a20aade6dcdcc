"""Run a sweep's walk-forwards on a Dask cluster: a `client=` or a `scheduler=` address.

One task per walk-forward; one whose worker died runs again elsewhere (Dask's
`allowed-failures`). Worker processes, and so their memory, are the cluster's own.
"""

import asyncio
import logging
import os
import time
from concurrent.futures import CancelledError
from contextlib import contextmanager

from distributed.diagnostics.plugin import WorkerPlugin

from ..errors import InvalidParameter, LstmBtError
from .execute import RETRIES, failed_results, run_walk_forward, thread_environment

__all__ = ["connect", "run_on_dask", "dashboard_link", "CapThreads", "WALK_FORWARD_PREFIX"]

WALK_FORWARD_PREFIX = "walk-forward-"
# A cluster with no worker runs nothing: after this long the sweep stops (resumable) instead
# of waiting forever, e.g. for a remote scheduler whose workers were all shut down.
NO_WORKERS_S = 120.0
_POLL_S = 10.0


@contextmanager
def connect(client=None, scheduler=None):
    """The `distributed.Client` given, or one to `scheduler` (closed afterwards)."""
    from distributed import Client

    if client is not None:
        client.register_plugin(CapThreads())
        yield client
        return
    try:
        own = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        raise InvalidParameter(
            f"Cannot reach the Dask scheduler {scheduler!r} ({error}); start one with "
            "`dask scheduler` and give its tcp://HOST:PORT.") from None
    try:
        own.register_plugin(CapThreads())
        yield own
    finally:
        _close(own)


def run_on_dask(client, work, on_result):
    """Run walk-forwards on `client`, calling `on_result` as each one finishes.

    Args:
        client: a connected `distributed.Client`.
        work: (bars, walk, broker) per walk-forward, the arguments of `run_walk_forward`.
        on_result: called with each walk-forward's list of cell results; a walk-forward whose
            task failed (e.g. its workers killed too often) gets one failed result per cell.
    """
    walks = {}
    for item in work:
        future = client.submit(run_walk_forward, *item, key=WALK_FORWARD_PREFIX + item[1].key,
                               retries=RETRIES, pure=False)
        walks[future] = item[1]
    try:
        for future in _as_finished(client, walks):
            try:
                results = future.result()
            except CancelledError as error:  # not the task's failure: the cluster dropped it
                raise _lost(client, error) from None
            except Exception as error:  # noqa: BLE001 - the task's own failure, recorded
                results = failed_results(walks[future], error)
            on_result(results)
            future.release()
    finally:
        if client.status == "running":
            client.cancel([future for future in walks if not future.done()])


def _lost(client, error):
    """The one-line error for tasks the cluster cancelled: its scheduler is gone (or someone
    cancelled them). Nothing is recorded for them; the next run computes them."""
    reason = getattr(error, "reason", None) or "cancelled"
    address = getattr(client.scheduler, "address", None) or "the scheduler"
    return LstmBtError(
        f"the Dask cluster dropped the sweep's tasks ({reason}): the scheduler {address} "
        "stopped or cannot be reached. Finished cells are kept: run the same command again "
        "to resume, once the scheduler and its workers are back (or without `scheduler`).")


def _close(client):
    """Close our own client; once its scheduler is gone, without what distributed logs for the
    reconnection that closing ends (a `CancelledError` traceback, or "Failed to reconnect":
    its retry loop ends as the client's status changes, and says so as if it had timed out)."""
    quiet = client.status != "running"
    logger = logging.getLogger("distributed.client")
    if quiet:
        logger.addFilter(_no_ended_reconnect)
    try:
        client.close()
    finally:
        logger.removeFilter(_no_ended_reconnect)


def _no_ended_reconnect(record):
    cancelled = record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError)
    return not (cancelled or record.getMessage().startswith("Failed to reconnect to scheduler"))


def _as_finished(client, futures):
    """Yield each future as it finishes; `LstmBtError` once the cluster has had no worker for
    `NO_WORKERS_S` seconds. Waits outside Dask's own calls, where a Ctrl-C lands cleanly."""
    from distributed import as_completed

    finished, checked, idle_since = as_completed(futures), time.monotonic(), None
    while not finished.is_empty():
        done = finished.next_batch(block=False)
        yield from done
        if done:
            idle_since = None
            continue
        time.sleep(0.1)
        if time.monotonic() - checked < _POLL_S:
            continue
        checked = time.monotonic()
        if client.scheduler_info().get("workers"):
            idle_since = None
            continue
        idle_since = idle_since or checked
        if checked - idle_since >= NO_WORKERS_S:
            raise LstmBtError(
                f"the Dask cluster has had no worker for {NO_WORKERS_S:.0f} s, so no cell can "
                f"run; start workers (`dask worker tcp://SCHEDULER:8786`) or run without "
                f"--scheduler. Finished cells are kept: run the same command again to resume.")


def dashboard_link(client):
    """The Dask dashboard's address, or None when the scheduler runs none."""
    try:
        services = client.scheduler_info().get("services", {})
    except (OSError, TimeoutError):
        return None
    return client.dashboard_link if "dashboard" in services else None


class CapThreads(WorkerPlugin):
    """Set the thread variables a worker lacks, before its first task imports Keras."""

    name = "lstm-bt-cap-threads"
    idempotent = True

    def setup(self, worker):
        from ..models.backend import usable_cores

        threads = max(1, usable_cores() // max(1, worker.state.nthreads))
        for name, value in thread_environment(threads).items():
            os.environ.setdefault(name, value)
