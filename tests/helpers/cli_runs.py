"""Run the real `python -m lstm_bt` command from tests, several at a time, or its `main()` in
the test's own process (no start-up to pay), and judge refusals."""

import logging
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lstm_bt(*args, cwd=ROOT):
    """One run of the command; the finished `subprocess.CompletedProcess`."""
    return subprocess.run([sys.executable, "-m", "lstm_bt", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def lstm_bt_all(argvs, workers=3):
    """Run each argument list as its own command, a few at a time (startup is mostly import
    time, so a few overlap well even on two cores); the results in the same order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda argv: lstm_bt(*argv), argvs))


def lstm_bt_in_process(*args, capfd, caplog):
    """`main(args)` in this process, as a finished `subprocess.CompletedProcess`: its exit
    status, and what its own process would have printed: stdout and stderr read at the file
    descriptors (whatever wrote them, Python or not); then on stderr, as lines, what pytest
    keeps from it: each record of WARNING or above logged (as the command's
    `logging.basicConfig` prints it), and each Python warning a fresh process shows (by
    Python's default filters) that main() did not print itself. Give the test's `capfd` and
    `caplog` fixtures."""
    from lstm_bt.cli import main

    capfd.readouterr()
    caplog.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for hidden in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                       ResourceWarning):
            warnings.simplefilter("ignore", hidden)
        status = main(list(map(str, args)))
    out, err = capfd.readouterr()
    err += "".join(f"{record.levelname} {record.name}: {record.getMessage()}\n"
                   for record in caplog.records if record.levelno >= logging.WARNING)
    err += "".join(f"{item.filename}:{item.lineno}: {item.category.__name__}: {item.message}\n"
                   for item in caught)
    return subprocess.CompletedProcess(["lstm-bt", *map(str, args)], status, out, err)


def refusal_problem(done, message):
    """Why a finished command is not a clean refusal naming `message` (exit 2, one line on
    stderr, no traceback), or None if it is one."""
    lines = done.stderr.strip().splitlines()
    if (done.returncode != 2 or len(lines) != 1 or "Traceback" in done.stderr
            or message not in lines[0] or not lines[0].startswith("lstm-bt: error: ")):
        return f"exit {done.returncode}, stderr {done.stderr[-600:]!r}"
    return None
