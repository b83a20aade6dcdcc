"""`lstm-bt trade --paper` sessions against a fake Binance, run as real processes, and the
backtest each must equal."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from lstm_bt.data.synthetic import ar1_returns
from lstm_bt.run.run_dir import write_run_dir
from lstm_bt.run.runner import run_backtest

ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "TESTUSDT"
# A tiny model retrained every 8 bars; a fixed stake that is a multiple of the fake's lot step,
# so the exchange's rounding cannot change a size (tested on its own in test_paper_broker.py).
MODEL = {"seq_len": 8, "train_window": 100, "retrain_every": 8, "epochs": 1, "units": (4,),
         "threshold": 0.0, "allow_short": True, "sizing": "fixed", "stake": 0.1}
MODEL_FLAGS = ["--seq-len", "8", "--train-window", "100", "--retrain-every", "8", "--epochs",
               "1", "--units", "4", "--threshold", "0", "--allow-short", "--sizing", "fixed",
               "--stake", "0.1"]
FILES = ("forecasts.csv", "trades.csv", "equity.csv")


def played_bars(bars=600, seed=11):
    """What the fake plays: AR(1) returns (near 30,000 USDT), so the model has something to
    find and the signal turns often."""
    return ar1_returns(bars, phi=0.3, interval="1s", seed=seed)


class Session:
    """One `lstm-bt trade --paper` process on `fake`, its state in `state`; `start()` runs it.

    Args:
        fake: the `FakeBinance` it trades on.
        state: the `--state` directory.
        bars: `--bars`, or None to run until stopped.
        extra: more flags.
        stdout: where the process writes (a file object, or `subprocess.PIPE`).
    """

    def __init__(self, fake, state, bars=None, extra=(), stdout=subprocess.PIPE):
        self.fake, self.state = fake, Path(state)
        self.argv = [sys.executable, "-m", "lstm_bt", "trade", "--paper", "--symbol", SYMBOL,
                     "--interval", "1s", "--state", str(state), "--base-url", fake.rest_url,
                     "--stream-url", fake.stream_url, "--data-dir", str(Path(state).parent /
                                                                       f"{Path(state).name}-data"),
                     *MODEL_FLAGS, *(["--bars", str(bars)] if bars else []), *extra]
        self.stdout = stdout
        self.process = None

    def start(self):
        self.process = subprocess.Popen(self.argv, cwd=ROOT, stdout=self.stdout,
                                        stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)})
        return self

    def live_bars(self):
        """Live bars journaled so far (0 before the journal exists)."""
        return journal_count(self.state, "SELECT COUNT(*) FROM bars WHERE live")

    def wait_for_live_bars(self, count, timeout=120.0):
        """Block until `count` live bars are journaled; fails if the process ends first."""
        ends = time.monotonic() + timeout
        while self.live_bars() < count:
            if self.process.poll() is not None:
                raise AssertionError(f"session ended early: {self.finish()}")
            if time.monotonic() > ends:
                raise AssertionError(f"no {count} live bars within {timeout} s")
            time.sleep(0.1)

    def signal(self, number):
        self.process.send_signal(number)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate()

    def finish(self, timeout=180.0):
        """Wait for the process; `(returncode, stdout, stderr)`."""
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err


def journal_count(state, query):
    path = Path(state) / "journal.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute(query).fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the tables are being created


def backtest_of(session_dir, fake, out):
    """`run_backtest` of the session's bars from its first live bar to its end (its report's
    `data.start`, `data.end`), fetched from the fake's REST as `lstm-bt backtest` fetches
    them, written to the run directory `out` without its pictures (parity compares the
    files a session keeps); the run's result."""
    import json

    data = json.loads((Path(session_dir) / "report.json").read_text())["data"]
    result = run_backtest(symbol=SYMBOL, interval="1s", start=data["start"], end=data["end"],
                          seed=0, base_url=fake.rest_url, data_dir=f"{out}-data", cache=False,
                          **MODEL)
    write_run_dir(out, result, plots=False)
    return result


def differences(session_dir, backtest_dir):
    """The files that differ between a session and its backtest (none: parity)."""
    return [name for name in FILES if (Path(session_dir) / name).read_bytes()
            != (Path(backtest_dir) / name).read_bytes()]
