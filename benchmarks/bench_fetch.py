"""Fetch a year of 1h klines from the loopback Binance server, then read it back from the store.

Prints requests made and seconds for each step (figures only, never asserted). Also times
reading the real 1h file in ../shared/data when it is there.

    .venv/bin/python benchmarks/bench_fetch.py
"""

import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _common import REFERENCE_CSV as REAL_FILE  # noqa: E402
from helpers.binance_server import BinanceTestServer  # noqa: E402

from lstm_bt.binance import BinanceClient, KlineStore, read_kline_file, update_store  # noqa: E402
from lstm_bt.data.dates import to_ms  # noqa: E402
from lstm_bt.data.synthetic import random_walk  # noqa: E402

YEAR = (to_ms(datetime(2024, 1, 1)), to_ms(datetime(2025, 1, 1)))


def timed(label, action):
    began = time.perf_counter()
    result = action()
    print(f"{label:<44} {time.perf_counter() - began:8.3f} s", end="")
    return result


def main():
    with BinanceTestServer() as server, tempfile.TemporaryDirectory() as data_dir:
        server.serve("BTCUSDT", "1h", random_walk(20_000, interval="1h", start="2023-07-01"))
        with KlineStore.in_dir(data_dir) as store:
            for run in ("first run (empty store)", "second run (all stored)"):
                with BinanceClient(server.url) as client:
                    stored = timed(f"fetch 2024 1h, {run}",
                                   lambda: update_store(store, client, "BTCUSDT", "1h", *YEAR))
                    print(f"   {client.requests_made} requests, {stored} bars stored")
            frame = timed("read 2024 1h back from the store",
                          lambda: store.read_frame("BTCUSDT", "1h", *YEAR))
            print(f"   {len(frame)} bars")
    if REAL_FILE.is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = timed(f"read {REAL_FILE.name}", lambda: read_kline_file(REAL_FILE))
        print(f"   {len(frame)} bars")


if __name__ == "__main__":
    main()
