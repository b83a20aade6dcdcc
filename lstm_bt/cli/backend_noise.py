"""The command's stderr without the Keras backend's C++ start-up lines.

TensorFlow writes absl, oneDNN and CUDA notes straight to fd 2, and no setting silences them.
The command owns its process, so it reads fd 2 through a pipe: those lines go to the log at
DEBUG, every other line reaches stderr as it comes. A library call never does this.
"""

import atexit
import contextlib
import logging
import os
import re
import select
import sys
import threading
import time

__all__ = ["filter_backend_noise"]

log = logging.getLogger(__name__)

# absl's "I0000 00:00:... file.cc:123] ..." records, its note about InitializeLog, and the
# CPU-instructions note that continues on a second line.
_NOISE = re.compile(rb"^([IWE]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\]|WARNING: All log "
                    rb"messages before absl|To enable the following instructions)")
_PIECES = re.compile(rb"[^\n]*\n|[^\n]+")
_DRAIN_S = 2.0  # at exit, wait at most this long for lines still in the pipe


def filter_backend_noise():
    """Filter this process's fd 2 until it exits; for the `lstm-bt` process only.

    Left alone when the user asked for the backend's lines (`TF_CPP_MIN_LOG_LEVEL=0`) or the
    process has no stderr.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0" or sys.stderr is None:
        return
    sys.stderr.flush()
    stderr = os.dup(2)
    reading, writing = os.pipe()
    os.dup2(writing, 2)
    os.close(writing)
    forwarder = _Forwarder(reading, stderr)
    forwarder.thread.start()
    atexit.register(_restore, stderr, forwarder)


def _restore(stderr, forwarder):
    with contextlib.suppress(ValueError, OSError):
        sys.stderr.flush()
    os.dup2(stderr, 2)  # closes the pipe's last writer, unless a child process still holds it
    # Forward what is in the pipe, without waiting for its end: a process that outlives this
    # one may hold it open (multiprocessing's resource tracker, which a sweep's local workers
    # start, does until this process is gone).
    deadline = time.monotonic() + _DRAIN_S
    while not forwarder.drained() and time.monotonic() < deadline:
        time.sleep(0.01)


class _Forwarder:
    """Copies the pipe to the real stderr as it comes, the noise lines to the log; reads to the
    end, so no writer ever blocks on a full pipe. A partial line (a progress bar's) is passed
    on at once: the backend writes each of its lines whole."""

    def __init__(self, reading, stderr):
        self.reading, self.stderr = reading, stderr
        self.open = True
        # Held while a chunk is out of the pipe but not yet on stderr.
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._forward, daemon=True,
                                       name="lstm-bt stderr filter")

    def drained(self):
        """Whether all that was written to the pipe so far is on stderr (False while a chunk is
        on its way, however long stderr takes it)."""
        if not self.lock.acquire(blocking=False):
            return False
        try:
            return not self.open or not _readable(self.reading, 0)
        finally:
            self.lock.release()

    def _forward(self):
        while True:
            _readable(self.reading, None)
            with self.lock:
                chunk = os.read(self.reading, 65536)
                if not chunk:
                    self.open = False
                    os.close(self.reading)
                    return
                self._pass(chunk)

    def _pass(self, chunk):
        kept = []
        for piece in _PIECES.findall(chunk):
            if piece.endswith(b"\n") and _NOISE.match(piece):
                log.debug("backend: %s", piece.decode(errors="replace").rstrip())
            else:
                kept.append(piece)
        with contextlib.suppress(OSError):  # stderr closed: the output has nowhere to go
            os.write(self.stderr, b"".join(kept))


def _readable(fd, timeout_ms):
    """Whether `fd` has data or its end (waits up to `timeout_ms`; None: until it has)."""
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    return bool(poll.poll(timeout_ms))
