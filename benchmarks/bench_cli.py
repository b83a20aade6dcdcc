"""How fast the command answers: `lstm-bt --help`, and a re-run that hits the forecast cache.

    .venv/bin/python benchmarks/bench_cli.py [--repeat 5]

Scenario (the engine issue's): 984 bars of BTCUSDT 1h from the reference CSV, `--start
2024-01-01 --end 2024-02-11`, seq_len 60, train_window 2000, retrain_every 168, 5 epochs,
64 units. The first run trains (cache miss); the re-run changes only `--threshold` (cache hit).
Every figure is a whole `lstm-bt` process, wall clock, as a user waits for it.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from _common import REFERENCE_CSV, machine

SCENARIO = ["--start", "2024-01-01", "--end", "2024-02-11", "--seq-len", "60",
            "--train-window", "2000", "--retrain-every", "168", "--epochs", "5",
            "--units", "64", "--quiet"]
LSTM_BT = [sys.executable, "-m", "lstm_bt"]


def timed_command(args):
    began = time.perf_counter()
    # Run outside the checkout: `python -m` puts the working directory first on sys.path,
    # which would shadow a PYTHONPATH pointing at another tree (to measure a "before").
    done = subprocess.run([*LSTM_BT, *args], capture_output=True, text=True,
                          cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - began
    if done.returncode:
        sys.exit(f"lstm-bt {' '.join(args)} failed:\n{done.stderr}")
    return seconds, done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", default=str(REFERENCE_CSV))
    parser.add_argument("--repeat", type=int, default=5, help="runs of each quick command")
    args = parser.parse_args()
    print(machine())

    help_s = [timed_command(["--help"])[0] for _ in range(args.repeat)]
    print(f"lstm-bt --help: median {median(help_s):.2f} s of {args.repeat} "
          f"({', '.join(f'{s:.2f}' for s in help_s)})")

    with tempfile.TemporaryDirectory() as scratch:
        run = ["backtest", "--csv", args.csv, *SCENARIO, "--data-dir", str(Path(scratch) / "d"),
               "--out", str(Path(scratch) / "run"), "--force"]
        first_s, first_out = timed_command([*run, "--threshold", "0.001"])
        hits = [timed_command([*run, "--threshold", str(0.002 + i / 1e4)])
                for i in range(args.repeat)]
    hit_s = median(seconds for seconds, _ in hits)
    outcome = "hit" if all("forecast cache hit" in out for _, out in hits) else "NOT a hit"
    print(f"backtest, 984 bars: first run {first_s:.1f} s; re-run with only --threshold "
          f"changed ({outcome}) median {hit_s:.2f} s of {args.repeat}: "
          f"{first_s / hit_s:.0f}x faster end to end")


if __name__ == "__main__":
    main()
