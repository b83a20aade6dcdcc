"""The sweep's own worker processes: the default when no Dask cluster is given.

Each worker is a one-process `ProcessPoolExecutor`, replaced by a fresh process after
`restart_every` walk-forwards (TensorFlow keeps memory for every model a process trains). A
process that dies fails only its walk-forward, which runs again, at most `RETRIES` times.
"""

import logging
import multiprocessing
import os
import signal
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .execute import RETRIES, failed_results, run_walk_forward

__all__ = ["run_local"]

log = logging.getLogger(__name__)


def run_local(work, on_result, workers, restart_every, env):
    """Run walk-forwards in `workers` processes, calling `on_result` as each one finishes.

    Args:
        work: (bars, walk, broker) per walk-forward, the arguments of `run_walk_forward`.
        on_result: called with each walk-forward's list of cell results.
        workers: processes running at once.
        restart_every: walk-forwards a process runs before a fresh one replaces it; 0 never.
        env: environment variables each process sets before it imports Keras.
    """
    queue, deaths, running = deque(work), Counter(), {}
    workers = [_Worker(env, restart_every) for _ in range(workers)]
    idle = list(workers)
    try:
        while queue or running:
            while queue and idle:
                worker, item = idle.pop(), queue.popleft()
                running[worker.submit(run_walk_forward, *item)] = worker, item
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                worker, item = running.pop(future)
                idle.append(worker)
                walk = item[1]
                try:
                    results = future.result()
                except BrokenProcessPool:
                    worker.close()
                    deaths[walk.key] += 1
                    if deaths[walk.key] <= RETRIES:
                        log.warning("a worker process died running walk-forward %s; running "
                                    "it again", walk.key[:12])
                        queue.appendleft(item)
                        continue
                    results = failed_results(walk, RuntimeError(
                        f"its worker process died {deaths[walk.key]} times (killed, or out of "
                        "memory)"))
                except Exception as error:  # noqa: BLE001 - e.g. bars that cannot be sent
                    results = failed_results(walk, error)
                on_result(results)
    finally:
        for worker in workers:
            worker.close(now=bool(running))


class _Worker:
    """A one-process pool, replaced after `restart_every` walk-forwards (0: never)."""

    def __init__(self, env, restart_every):
        self.env, self.restart_every = env, restart_every
        self.pool, self.runs = None, 0

    def submit(self, function, *args):
        if self.runs == self.restart_every:
            self.close()
        if self.pool is None:
            context = multiprocessing.get_context("spawn")  # no fork of this process's threads
            self.pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start,
                                            initargs=(self.env,))
            self.runs = 0
        self.runs += 1
        return self.pool.submit(function, *args)

    def close(self, now=False):
        """Wait for the process to exit; with `now`, end it first (Ctrl-C: it was busy)."""
        if self.pool is None:
            return
        if now:
            # `ProcessPoolExecutor.terminate_workers()` from Python 3.14.
            for process in list((self.pool._processes or {}).values()):
                process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=now)
        self.pool = None


def _start(env):
    """In a new worker process, before anything imports Keras."""
    os.environ.update(env)
    # Ctrl-C in a terminal reaches every process of the group: the sweep stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
