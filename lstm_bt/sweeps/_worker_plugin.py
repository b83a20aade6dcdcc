"""The worker plugin that caps backend threads on workers the sweep did not start."""

import os

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["CapThreads"]


class CapThreads(WorkerPlugin):
    """Set the thread variables a worker lacks, before its first task imports TensorFlow.

    A LocalCluster started by the sweep has them from its environment already; a remote
    worker (`dask worker tcp://...`) gets cores // task threads each. A worker that imported
    TensorFlow before (another job's task) keeps the thread pools it has.
    """

    name = "lstm-bt-cap-threads"
    idempotent = True

    def setup(self, worker):
        from ..models.runtime import usable_cores
        from .execute import thread_environment

        threads = max(1, usable_cores() // max(1, worker.state.nthreads))
        for name, value in thread_environment(threads).items():
            os.environ.setdefault(name, value)
