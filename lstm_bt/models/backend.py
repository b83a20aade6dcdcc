"""The Keras backend: which one, how many threads it may use, and its set-up before a fit.

Nothing happens on import: `configure` runs right before the first model is built or trained.
"""

import json
import logging
import os
import sys
from pathlib import Path

__all__ = ["backend_name", "backend_threads", "configure", "usable_cores"]

log = logging.getLogger(__name__)

_configured = False


def usable_cores():
    """CPU cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def backend_name():
    """The Keras backend this process uses or will use, without importing Keras.

    Reads what Keras reads at its first import: `$KERAS_BACKEND`, else the `backend` of
    `$KERAS_HOME/keras.json` (`~/.keras/keras.json`), else TensorFlow.
    """
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "backend"):
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        return json.loads((home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def backend_threads():
    """Threads the backend may use: `$LSTM_BT_THREADS` when set (a sweep's worker sets it to
    its share of the cores), else the usable cores."""
    value = os.environ.get("LSTM_BT_THREADS", "")
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    return usable_cores()


def configure():
    """Make training reproducible and sized for the machine; once per process.

    Under TensorFlow: op determinism on, `backend_threads()` intra-op threads and one inter-op
    thread (a small LSTM gains nothing from running ops side by side). Seeds are not set
    here: each forecaster draws from its own generator.
    """
    global _configured
    if _configured:
        return
    _configured = True
    if backend_name() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        try:
            tf.config.threading.set_intra_op_parallelism_threads(backend_threads())
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # initialised by the caller already: its pools are fixed
            log.info("TensorFlow already initialised; keeping its thread settings")
