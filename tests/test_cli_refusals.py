"""`lstm-bt backtest` refuses bad flags and bad strategy files in one line, exit status 2.

Each case runs the real command in a subprocess. The flags would make a tiny, quick backtest
if the refusal were lost, so a missing refusal shows as exit 0, not as a hang.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# 2024-01-02 20:00 is the first demo bar with 44 bars of history: a few hours of trading.
QUICK_DEMO = ["--demo", "--end", "2024-01-03 02:00", "--seq-len", "4", "--train-window", "40",
              "--retrain-every", "100", "--epochs", "1", "--units", "2", "--no-cache", "--quiet"]
STRATEGY_FILES = {
    "missing_module.py": "import lstm_bt_no_such_module\n",
    "raises.py": "raise RuntimeError('strategy file exploded')\n",
    "no_class.py": "from lstm_bt.strategies import LSTMStrategy\n",
    "two_classes.py": ("from lstm_bt.strategies import LSTMStrategy\n\n"
                       "class One(LSTMStrategy):\n    pass\n\n"
                       "class Two(LSTMStrategy):\n    pass\n"),
}

REFUSALS = [
    ("demo with symbol", ["--symbol", "X"], "drop --symbol/--interval"),
    ("param without =", ["--param", "foo"], "write NAME=VALUE"),
    ("run-managed param seed", ["--param", "seed=3"], "set by the run itself"),
    ("wrongly typed int param", ["--param", "epochs=abc"], "`--param epochs`: 'abc'"),
    ("wrongly typed bool param", ["--param", "allow_short=maybe"], "`--param allow_short`"),
    ("strategy file fails to import", ["--strategy-path", "{tmp}/missing_module.py"],
     "failed to import: ModuleNotFoundError"),
    ("strategy file raises", ["--strategy-path", "{tmp}/raises.py"],
     "failed to import: RuntimeError: strategy file exploded"),
    ("no strategy class", ["--strategy-path", "{tmp}/no_class.py"],
     "defines 0 LSTMStrategy subclasses"),
    ("several strategy classes", ["--strategy-path", "{tmp}/two_classes.py"],
     "defines 2 LSTMStrategy subclasses (One, Two)"),
]


@pytest.fixture(scope="module")
def strategy_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strategies")
    for name, text in STRATEGY_FILES.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize("args, message", [case[1:] for case in REFUSALS],
                         ids=[case[0].replace(" ", "_") for case in REFUSALS])
def test_refused_in_one_line_with_exit_2_and_no_traceback(strategy_dir, args, message):
    args = [arg.format(tmp=strategy_dir) for arg in args]
    done = subprocess.run([sys.executable, "-m", "lstm_bt", "backtest", *QUICK_DEMO, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("lstm-bt: error: "), done.stderr
    assert message in lines[0]
    assert done.stdout == ""

