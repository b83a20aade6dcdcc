"""What the benchmark scripts share: the reference data and schedule, timing, memory, machine."""

import os
import platform
import resource
import statistics
import time
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REFERENCE_CSV = SHARED_DATA / "btcusdt_1h_2022-2026_rest_raw.csv"
REFERENCE_DATES = {"start": "2024-01-01", "end": "2025-01-01"}
REFERENCE = {"seq_len": 60, "train_window": 2000, "retrain_every": 168}
OHLCV = ["open", "high", "low", "close", "volume"]


def timed(call):
    """(result of `call()`, seconds it took)."""
    began = time.perf_counter()
    result = call()
    return result, time.perf_counter() - began


def median(values):
    return statistics.median(values)


def rss_mb():
    """Resident memory of this process now, MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb():
    """Highest resident memory this process has had, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine():
    """One line: CPU model, usable cores, memory, load, Python and the Keras backend."""
    from lstm_bt.models.backend import backend_name, usable_cores

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as info:
        mem_gb = int(info.readline().split()[1]) / 2**20
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu}, {usable_cores()} usable cores, {mem_gb:.0f} GB RAM, load {load}; "
            f"Python {platform.python_version()}, Keras backend {backend_name()}")
