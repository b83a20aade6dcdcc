"""Seeding, op determinism and thread counts, applied when a model is first trained.

Never on import: importing lstm_bt changes no global state (STYLE, rule 7). `configure` is
called by the forecaster right before it builds or trains a model.
"""

import json
import logging
import os
import sys
import weakref
from pathlib import Path

__all__ = ["backend_name", "compiled_forward", "configure", "steps_per_execution",
           "usable_cores"]

logger = logging.getLogger(__name__)

# A training window is a few dozen batches, so 64 steps a call runs a whole epoch in one
# backend call instead of paying the dispatch once a batch. The updates are the same (same
# batches, same order); only the overhead goes.
_STEPS_PER_EXECUTION = 64

_backend_configured = False


def usable_cores():
    """CPU cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def backend_name():
    """The Keras backend this process uses or will use, without importing Keras.

    Keras fixes its backend at first import from `$KERAS_BACKEND`, else the `backend` of
    `$KERAS_HOME/keras.json` (`~/.keras/keras.json`), else TensorFlow; this reads the same
    places, so asking (e.g. for a forecast-cache key) does not pay for importing TensorFlow.
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


def steps_per_execution():
    """Gradient steps per backend call, for `model.compile` (PyTorch's trainer allows only 1)."""
    return 1 if backend_name() == "torch" else _STEPS_PER_EXECUTION


_jitted = weakref.WeakKeyDictionary()


def compiled_forward(model):
    """`model`'s forward pass with its current weights, compiled by the backend, or None.

    Under JAX a jitted `stateless_call` runs one sequence in about 40 us, against about
    350 us for the NumPy pass and as much again for `model.predict`; under TensorFlow and
    PyTorch one backend call costs more than the whole NumPy pass, so they get None. The
    weights are read at each call of this function: call it again after training.

    Args:
        model: a built Keras model.

    Returns:
        A function of `(batch, seq_len, n_features)` sequences returning `(batch,)` float64
        outputs, or None where the NumPy pass is the faster one.
    """
    if backend_name() != "jax":
        return None
    import jax
    import numpy as np

    if model not in _jitted:
        _jitted[model] = jax.jit(
            lambda weights, state, inputs: model.stateless_call(weights, state, inputs)[0])
    call = _jitted[model]
    weights = [variable.value for variable in model.trainable_variables]
    state = [variable.value for variable in model.non_trainable_variables]
    return lambda sequences: np.asarray(
        call(weights, state, np.asarray(sequences, dtype=np.float32)), dtype=np.float64)[:, 0]


def configure(seed=None):
    """Make training reproducible and sized for the machine.

    Seeds Python, NumPy and the Keras backend with `keras.utils.set_random_seed` when `seed` is
    given (on every call, so two runs with one seed draw the same numbers). Once per process,
    under TensorFlow: enables op determinism, and sets intra-op threads to the usable cores and
    inter-op threads to 1: a small LSTM gains nothing from running ops side by side, and
    TensorFlow's default of one pool per core each oversubscribes a small machine.

    Args:
        seed: integer seed, or None to leave the random state alone. Defaults to `None`.
    """
    import keras

    global _backend_configured
    if not _backend_configured:
        _backend_configured = True
        if keras.backend.backend() == "tensorflow":
            _configure_tensorflow()
    if seed is not None:
        keras.utils.set_random_seed(int(seed))


def _configure_tensorflow():
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(usable_cores())
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow was already initialised by the caller; its thread pools are fixed now.
        logger.info("TensorFlow already initialised; keeping its thread settings")
