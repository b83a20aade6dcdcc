"""The command's own process: the backend's C++ start-up lines are kept off stderr, every other
line reaches it as it comes; a library call leaves its caller's stderr alone."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

NOISE = b"I0000 00:00:00.000000 1234 cpu_feature_guard.cc:1] backend noise\n"


def _stderr_file():
    """Which file fd 2 is."""
    status = os.fstat(2)
    return status.st_dev, status.st_ino


def _python(code, **kwargs):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def _first_bytes(child, size):
    """What the child wrote to stderr first, without waiting for it to end."""
    deadline = threading.Timer(60, child.kill)  # never forwarded fails, not hangs
    deadline.start()
    try:
        return child.stderr.read1(size) if size else b""
    finally:
        deadline.cancel()


def test_other_lines_pass_at_once_so_a_crash_report_survives_and_the_noise_does_not():
    child = _python(f"""
        import os, sys
        from lstm_bt.cli.backend_noise import filter_backend_noise
        filter_backend_noise()
        os.write(2, {NOISE!r})
        os.write(2, b"a crash report\\n")
        os.write(2, b"\\rbacktest  50%")  # a progress bar: no newline yet
        sys.stdin.read()  # the test kills us here
    """)
    try:
        seen = b""
        while not seen.endswith(b"50%"):
            chunk = _first_bytes(child, 100)
            assert chunk, "stderr closed before the progress bar came"
            seen += chunk
    finally:
        child.kill()
    rest = child.stderr.read()
    child.wait()
    assert seen + rest == b"a crash report\n\rbacktest  50%"


def test_the_console_script_filters_its_process_and_exits_with_mains_status():
    child = _python(f"""
        import os
        import lstm_bt.cli as cli
        def main(argv=None):
            os.write(2, {NOISE!r} + b"a real warning\\n")
            return 3
        cli.main = main
        cli.run_and_exit()
    """)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 3
    assert err == b"a real warning\n"


def test_a_process_outliving_the_command_with_its_stderr_does_not_hold_up_its_exit():
    # multiprocessing's resource tracker (a sweep's local workers start it) inherits fd 2 and
    # lives until the command is gone: the command forwards what is in the pipe and exits
    # without waiting for the pipe's end (the wait's cap raised far past this test's timeout).
    child = _python("""
        import os, sys
        from multiprocessing import resource_tracker
        from lstm_bt.cli import backend_noise
        backend_noise._DRAIN_S = 600
        backend_noise.filter_backend_noise()
        resource_tracker.ensure_running()
        os.write(2, b"last words\\n")
        sys.exit(0)
    """)
    try:
        _, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail("the command waited at its exit for a process that outlives it")
    assert child.returncode == 0
    assert err == b"last words\n"


def test_a_user_who_asks_for_the_backends_lines_gets_them(monkeypatch):
    code = f"""
        import os
        from lstm_bt.cli.backend_noise import filter_backend_noise
        filter_backend_noise()
        os.write(2, {NOISE!r})
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, timeout=60)
    assert done.stderr == NOISE


def test_without_a_stderr_nothing_is_filtered(monkeypatch):
    from lstm_bt.cli.backend_noise import filter_backend_noise

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setattr(sys, "stderr", None)  # pythonw, daemons, `2>&-`
    before = _stderr_file()
    filter_backend_noise()
    assert _stderr_file() == before


def test_the_command_run_from_python_leaves_the_callers_stderr_alone(tmp_path):
    from lstm_bt.cli import main

    before = _stderr_file()
    assert main(["plot", str(tmp_path)]) == 2  # no run there: refused
    assert _stderr_file() == before
