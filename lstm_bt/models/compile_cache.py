"""JAX's persistent compilation cache in the data directory, for processes lstm-bt starts."""

import logging
import os

from .backend import backend_name

__all__ = ["COMPILE_CACHE_DIR", "compile_cache_environment"]

log = logging.getLogger(__name__)

COMPILE_CACHE_DIR = "jax_cache"


def compile_cache_environment(data_dir=None):
    """The environment variables that give a new process JAX's compilation cache in
    `<data_dir>/jax_cache`: it reads the programs another process compiled (the same
    executables, so identical results).

    The command sets them for itself and a sweep for its workers; from Python set
    `JAX_COMPILATION_CACHE_DIR` yourself. Empty under another backend, when that variable is
    set already, or when the folder cannot be written (compiling is then slower, never
    different).
    """
    if backend_name() != "jax" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return {}
    from ..settings import resolve_data_dir

    directory = (resolve_data_dir(data_dir) / COMPILE_CACHE_DIR).absolute()
    reason = _unwritable(directory)
    if reason:
        log.info("JAX's compilation cache is off: %s (%s)", directory, reason)
        return {}
    return {"JAX_COMPILATION_CACHE_DIR": str(directory),
            # JAX keeps only programs that took over 1 s to compile; ours take less.
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            # Else a GPU autotuning folder inside the cache enters every key, and a moved
            # data directory never hits.
            "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": ""}


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
