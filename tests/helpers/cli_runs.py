"""Run the real `python -m lstm_bt` command from tests, several at a time, and judge refusals."""

import subprocess
import sys
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


def refusal_problem(done, message):
    """Why a finished command is not a clean refusal naming `message` (exit 2, one line on
    stderr, no traceback), or None if it is one."""
    lines = done.stderr.strip().splitlines()
    if (done.returncode != 2 or len(lines) != 1 or "Traceback" in done.stderr
            or message not in lines[0] or not lines[0].startswith("lstm-bt: error: ")):
        return f"exit {done.returncode}, stderr {done.stderr[-600:]!r}"
    return None
