"""Memory and time of reading a large kline CSV: 500,000 1-minute bars (issue 11, item 9).

Writes the file once (a Binance REST dump: 12 fields, no header, times in ms) to a temporary
directory, then reads it in a fresh process per repeat, two ways side by side: `read_kline_file`
(numbers parsed as float64) and, as the baseline, the way it read files before issue 11 (every
field as text first, then converted). Prints the file size, the read time, the peak of Python
allocations (`tracemalloc`, which sees NumPy and pandas arrays) and the growth of the peak RSS
(`VmHWM`, reset before the read) over the RSS before it, each also as a multiple of the file
size. Figures only, never asserted.

    .venv/bin/python benchmarks/bench_files.py [--rows 500000] [--repeat 3]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys, time, tracemalloc, warnings
import numpy as np
import pandas as pd
from lstm_bt.binance import read_kline_file


def read_as_text(path):
    # The reader before issue 11: every field a string, converted afterwards.
    table = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    return pd.DataFrame(table.iloc[:, :11].to_numpy(np.float64))


def status_mb(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024

# ru_maxrss survives exec (it would count the parent's memory): reset VmHWM, the mm's peak.
with open("/proc/self/clear_refs", "w") as clear_refs:
    clear_refs.write("5")
before = status_mb("VmRSS")
tracemalloc.start()
began = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    if sys.argv[2] == "numbers":
        frame = read_kline_file(sys.argv[1], "1m")
    else:
        frame = read_as_text(sys.argv[1])
seconds = time.perf_counter() - began
_, traced_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
peak = status_mb("VmHWM")
print(json.dumps({"rows": len(frame), "seconds": seconds, "traced_peak_mb": traced_peak / 2**20,
                  "rss_growth_mb": peak - before, "frame_mb": frame.memory_usage().sum() / 2**20}))
"""


def write_csv(path, rows):
    """A 1m kline CSV of `rows` random-walk bars as Binance writes it: no header, 8 decimals."""
    import numpy as np
    import pandas as pd

    from lstm_bt.binance import CSV_HEADER
    from lstm_bt.data.synthetic import random_walk

    frame = random_walk(rows, interval="1m", start="2023-01-01", seed=7)
    open_ms = frame.index.values.astype("datetime64[ms]").astype(np.int64)
    columns = {"open_time": open_ms, **{name: frame[name] for name in frame.columns[:5]},
               "close_time": open_ms + 59_999,
               **{name: frame[name] for name in frame.columns[5:]}, "ignore": 0}
    table = pd.DataFrame({name: np.asarray(values) if not np.isscalar(values) else values
                          for name, values in columns.items()})
    table.columns = CSV_HEADER
    table.to_csv(path, header=False, index=False, float_format="%.8f")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "BTCUSDT-1m.csv"
        write_csv(path, args.rows)
        size_mb = path.stat().st_size / 2**20
        print(f"file: {args.rows:,} 1m bars, {size_mb:.1f} MB; load {os.getloadavg()[0]:.2f}")
        for repeat, way in [(r, w) for r in range(args.repeat) for w in ("numbers", "text")]:
            result = json.loads(subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), way], env=env, check=True,
                capture_output=True, text=True).stdout)
            label = "read_kline_file" if way == "numbers" else "as text (before)"
            print(f"{label:<16} {repeat + 1}: {result['seconds']:.2f} s, {result['rows']:,} bars; "
                  f"peak traced {result['traced_peak_mb']:.0f} MB "
                  f"({result['traced_peak_mb'] / size_mb:.1f}x file), peak RSS growth "
                  f"{result['rss_growth_mb']:.0f} MB ({result['rss_growth_mb'] / size_mb:.1f}x "
                  f"file); frame {result['frame_mb']:.0f} MB")


if __name__ == "__main__":
    main()
