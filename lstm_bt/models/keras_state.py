"""Keras' global state, cleared between walk-forwards only while no thread is using Keras."""

import contextlib
import threading

__all__ = ["clear_session_unless_in_use", "keras_in_use"]

_lock = threading.Lock()
_in_use = 0  # threads inside `keras_in_use` now


@contextlib.contextmanager
def keras_in_use():
    """Around every use of a Keras model (build, fit, compiled pass, save, load); threads
    may overlap, and `clear_session_unless_in_use` waits for none of them."""
    global _in_use
    with _lock:  # waits while a session is being cleared
        _in_use += 1
    try:
        yield
    finally:
        with _lock:
            _in_use -= 1


def clear_session_unless_in_use():
    """`keras.backend.clear_session()`, unless a thread is inside `keras_in_use`; returns
    whether it cleared.

    `clear_session` frees the models and graphs of earlier walk-forwards, but it replaces the
    Keras state of every thread at once: inside another thread's fit it breaks that fit. No
    use of Keras starts while it clears.
    """
    with _lock:
        if _in_use:
            return False
        import keras

        keras.backend.clear_session(free_memory=True)
        return True
