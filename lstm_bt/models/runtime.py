"""Seeding, op determinism and thread counts, applied when a model is first trained.

Never on import: importing lstm_bt changes no global state (STYLE, rule 7). `configure` is
called by the forecaster right before it builds or trains a model.
"""

import contextlib
import json
import logging
import os
import re
import sys
import threading
from glob import escape as glob_escape
from pathlib import Path

__all__ = ["backend_name", "backend_threads", "clear_session_unless_in_use",
           "compile_cache_environment", "compiled_forward", "configure", "keras_in_use",
           "mend_compile_cache", "quiet_backend", "usable_cores", "COMPILE_CACHE_DIR"]

logger = logging.getLogger(__name__)

# Under the data directory: JAX's persistent compilation cache (`compile_cache_environment`).
COMPILE_CACHE_DIR = "jax_cache"

_backend_configured = False
_in_use_lock = threading.Lock()
_in_use = 0  # threads inside `keras_in_use` now
_quiet_lock = threading.Lock()
_quiet_depth = 0
_captured = None
_FORWARD_DRAIN_S = 2.0  # wait at most this long for stderr lines still in the pipe

# JAX's warning when a cache entry cannot be read: "... cache entry for 'jit_sign': ...".
_UNREADABLE_ENTRY = re.compile(r"Error reading persistent compilation cache entry for '([^']+)'")
# absl's "I0000 00:00:... file.cc:123] ..." records and its note about InitializeLog, plus the
# CPU-instructions note that continues on a second line.
_BACKEND_NOISE = re.compile(r"^([IWE]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\]|WARNING: All log "
                            r"messages before absl|To enable the following instructions)")


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


def compile_cache_environment(data_dir=None):
    """The environment that gives a process lstm-bt starts JAX's compilation cache.

    Under JAX each process compiles every program it runs (an epoch of gradient steps, the
    forecast and validation passes: ~1-2 s of CPU an architecture). A process started with
    these variables reads what another process compiled from `<data dir>/jax_cache`
    (`COMPILE_CACHE_DIR`) instead: the same executables, so byte-identical results. The
    command line sets them for itself and a sweep for the workers of the cluster it starts
    (on 16 cores a sweep of 48 short walk-forwards took 4.0 s instead of 10.9 s once the
    cache was filled; benchmarks/README.md). A library call never changes its caller's
    process: set `JAX_COMPILATION_CACHE_DIR` yourself to use it from Python.

    Empty (nothing to set) under another backend, when `$JAX_COMPILATION_CACHE_DIR` is
    already set (the caller's own choice, inherited by the processes it starts), or when the
    folder could not be made or written (logged: compiling is only slower, never different).
    Nothing is created here: JAX makes the folder at its first compile. An entry JAX cannot
    read (a full disk, a process killed while writing it) is deleted by `mend_compile_cache`
    in the processes that set these, and written again.

    Args:
        data_dir: the data directory. Defaults to `None`: `$LSTM_BT_DATA_DIR`, else `./feeds`.

    Returns:
        A dict of environment variables (strings).
    """
    if backend_name() != "jax" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return {}
    from ..settings import resolve_data_dir

    directory = (resolve_data_dir(data_dir) / COMPILE_CACHE_DIR).absolute()
    reason = _unwritable(directory)
    if reason:
        logger.info("JAX's compilation cache is off: %s (%s)", directory, reason)
        return {}
    return {"JAX_COMPILATION_CACHE_DIR": str(directory),
            # Our programs compile in 0.2-1.5 s; JAX's default keeps only those over 1 s.
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            # JAX's default puts a GPU autotuning folder inside the cache into every key,
            # so a moved or copied data directory would never hit: keys without it.
            "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": ""}


def mend_compile_cache(message):
    """Delete the entries JAX just failed to read, so this process writes them again.

    JAX writes an entry in place and never over an existing one, so an entry cut short (a
    full disk, a process killed while writing) would cost a compile and a warning in every
    later process. Its warning names the program, not the file: every entry of that
    program's name goes (the others are written again too).

    Args:
        message: a warning's text.

    Returns:
        The one line to show instead of JAX's warning, or None when `message` is not JAX's
        about a cache entry it could not read, or no cache is set.
    """
    found = _UNREADABLE_ENTRY.search(str(message))
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if not found or not folder:
        return None
    deleted = 0
    for entry in Path(folder).glob(f"{glob_escape(found.group(1))}-*"):
        with contextlib.suppress(OSError):
            entry.unlink()
            deleted += 1
    return (f"JAX's compilation cache in {folder} held a damaged entry for "
            f"{found.group(1)!r}: {'deleted, ' if deleted else ''}compiled again")


def _unwritable(directory):
    """Why JAX could not keep its cache in `directory` (made at its first compile), or ''."""
    existing = directory
    while not existing.exists():
        if existing.parent == existing:
            return "no existing parent"
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return "not writable"
    return ""


def compiled_forward(model, programs=None):
    """`model`'s forward pass with its current weights, compiled by the backend, or None.

    Under JAX a jitted `stateless_call` runs one sequence in about 40 us, against about
    350 us for the NumPy pass and as much again for `model.predict`; under TensorFlow and
    PyTorch one backend call costs more than the whole NumPy pass, so they get None. The
    weights are read at each call of this function: call it again after training.

    Args:
        model: a built Keras model.
        programs: under JAX, the `jax_programs.Programs` to run (shared by the models of one
            architecture); None: `model`'s own. Defaults to `None`.

    Returns:
        A function of `(batch, seq_len, n_features)` sequences returning `(batch,)` float64
        outputs, or None where the NumPy pass is the faster one.
    """
    if backend_name() != "jax":
        return None
    import jax
    import numpy as np

    if jax.default_backend() != "cpu":
        # On an accelerator each call is a device round trip (~2 ms on an H100, against
        # ~0.35 ms for the NumPy pass on one CPU core): forecast on the CPU instead.
        return None

    if programs is None:
        from . import jax_programs

        programs = jax_programs.own(model)
    weights = [variable.value for variable in model.trainable_variables]
    state = [variable.value for variable in model.non_trainable_variables]
    return lambda sequences: np.asarray(programs.forward(
        weights, state, np.asarray(sequences, dtype=np.float32)), dtype=np.float64)[:, 0]


def configure():
    """Make training reproducible, quiet and sized for the machine; once per process.

    Under TensorFlow: enables op determinism, sets intra-op threads to `backend_threads()`
    and inter-op threads to 1 (a small LSTM gains nothing from running ops side by side, and
    TensorFlow's default of one pool per core oversubscribes a small machine). Seeds are not
    set here: each forecaster draws from its own
    generator (see `LSTMForecaster`), never from global random state.
    """
    global _backend_configured
    if _backend_configured:
        return
    _backend_configured = True
    if backend_name() == "tensorflow":
        _configure_tensorflow()


@contextlib.contextmanager
def keras_in_use():
    """Around every use of a Keras model (build, fit, compiled pass, save, load): while one
    runs, `clear_session_unless_in_use` leaves Keras' state alone. Threads may overlap."""
    global _in_use
    with _in_use_lock:  # waits while a session is being cleared
        _in_use += 1
    try:
        yield
    finally:
        with _in_use_lock:
            _in_use -= 1


def clear_session_unless_in_use():
    """`keras.backend.clear_session()`, unless a thread of this process is inside
    `keras_in_use`; returns whether it cleared.

    Dropping the models and graphs earlier ones left frees memory (about 8 MB a tiny
    walk-forward, measured; half of it goes with this). But `clear_session` replaces the Keras
    state of every thread at once (it rebinds Keras' `threading.local()` objects): in a Dask
    worker with several task threads it landed inside another thread's epoch and broke it
    (`UnexpectedTracerError` under JAX, a loss of the wrong shape from `train_on_batch`; 16
    threads on 16 cores, benchmarks/README.md). No use of Keras starts while it clears.
    """
    with _in_use_lock:
        if _in_use:
            return False
        with quiet_backend():  # importing Keras loads the backend: its start-up lines
            import keras

            keras.backend.clear_session(free_memory=True)
        return True


@contextlib.contextmanager
def quiet_backend():
    """Around a fit: the lines the backend's C++ writes straight to file descriptor 2
    (TensorFlow 2.21's absl/oneDNN/CUDA start-up notes, `failed call to cuInit`, `NodeDef
    mentions attribute ...`, which no setting silences) are logged at DEBUG instead; every
    other line written to fd 2 meanwhile (a warning, a crash report, a child process's output)
    is passed on to stderr as it comes, by a thread reading fd 2 through a pipe. A user who
    asked to see them (`TF_CPP_MIN_LOG_LEVEL=0`) gets stderr untouched. Thread-safe:
    concurrent fits share one redirection, undone when the last one ends."""
    global _quiet_depth, _captured
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0" or sys.stderr is None:
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            sys.stderr.flush()
            stderr = os.dup(2)
            reading, writing = os.pipe()
            os.dup2(writing, 2)
            os.close(writing)
            forwarder = threading.Thread(target=_forward_stderr, args=(reading, stderr),
                                         name="lstm-bt stderr filter", daemon=True)
            forwarder.start()
            _captured = (stderr, forwarder)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                sys.stderr.flush()
                stderr, forwarder = _captured
                os.dup2(stderr, 2)  # the pipe's last writer closes (unless a child holds it)
                # A child process still writing to the pipe keeps the thread forwarding.
                forwarder.join(timeout=_FORWARD_DRAIN_S)


def _forward_stderr(reading, stderr):
    """Copy fd 2's pipe to the real stderr line by line, the backend's noise to the log.

    Reads to the end whatever happens to the output, so no writer ever blocks on a full pipe."""
    with open(reading, "rb") as pipe, open(stderr, "wb", buffering=0) as out:
        for line in pipe:
            text = line.decode(errors="replace")
            if _BACKEND_NOISE.match(text):
                logger.debug("backend: %s", text.rstrip())
                continue
            with contextlib.suppress(OSError):  # stderr closed: the line has nowhere to go
                out.write(line)


def backend_threads():
    """Threads the backend may use: `$LSTM_BT_THREADS` when set (a sweep's worker sets it to
    its own thread count, so N workers never oversubscribe N cores), else the usable cores."""
    value = os.environ.get("LSTM_BT_THREADS", "")
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    return usable_cores()


def _configure_tensorflow():
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(backend_threads())
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow was already initialised by the caller; its thread pools are fixed now.
        logger.info("TensorFlow already initialised; keeping its thread settings")
