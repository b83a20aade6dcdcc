"""Latency of a paper session: from a closed 1h bar reaching the feed to the paper order.

Prints figures, asserts nothing. A real `PaperSession` (journal in SQLite, state files, the
paper broker, LSTMStrategy with the default model: seq_len 60, train_window 2000,
retrain_every 168, 20 epochs cold, 3 warm; threshold 0, so the signal turns often enough to
time orders) runs on real BTCUSDT 1h bars from ../shared/data:
the 2,060 bars of history before the first live bar come from a loopback Binance REST server,
and the live bars from an in-process stream that hands each one out as soon as the session
asks for it, so every bar is timed from the moment the feed has it:

- to the order: when the paper broker journals the order (before backtrader has it), for bars
  whose forecast changes the position;
- to the forecast: when the forecast is journaled (the strategy and the analyzers are done);
- whole bar: until the feed asks for the next bar (the state files rewritten too).

Bars whose close is a retrain point (the first live bar, then every 168th) fit a model first:
the forecast of the next close needs the model trained up to this bar, so the order waits
for the fit. Network time from Binance's close to the feed (the closed candle moments after
the close, or REST after a grace) is not in these figures.

    flock /work/team/heavy.lock .venv/bin/python benchmarks/bench_live.py [--live-bars 505]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _common import REFERENCE, REFERENCE_CSV, machine  # noqa: E402
from helpers.fake_binance import FakeBinance  # noqa: E402
from helpers.listed_klines import stream_bars  # noqa: E402

from lstm_bt.binance import read_kline_file  # noqa: E402
from lstm_bt.live import PaperSession  # noqa: E402
from lstm_bt.live.journal import Journal  # noqa: E402

HISTORY = REFERENCE["train_window"] + REFERENCE["seq_len"]


class TimedStream:
    """Hands out the live bars at once, noting when each was handed out and when the feed
    came back for the next one."""

    def __init__(self, bars, after_ms):
        self.status = "live"
        self.bars = [(open_ms, bar) for open_ms, bar in bars if open_ms > after_ms]
        self.handed, self.asked = {}, []

    def start(self):
        return self

    def get(self, timeout=None):
        self.asked.append(time.perf_counter())
        if not self.bars:
            time.sleep(timeout or 0)
            return None
        open_ms, bar = self.bars.pop(0)
        self.handed[open_ms] = time.perf_counter()
        return open_ms, bar

    def close(self):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--live-bars", type=int, default=505,
                        help="live bars (default 505: a cold fit at the first, then three "
                             "warm ones)")
    args = parser.parse_args(argv)
    print(machine())
    real = read_kline_file(REFERENCE_CSV)
    frame = real.iloc[-(HISTORY + args.live_bars + 10):]
    # The fake Binance re-times the real bars on today's hours: HISTORY + 10 have closed.
    with FakeBinance("BTCUSDT", "1h", history=HISTORY + 10, bars=args.live_bars,
                     frame=frame) as fake, tempfile.TemporaryDirectory() as work:
        live = stream_bars(fake.frame)
        streams = []

        def stream_factory(symbol, interval, *, after_ms, base_url=None, stream_url=None):
            streams.append(TimedStream(live, after_ms))
            return streams[-1]

        marks = {"order": {}, "forecast": {}}
        record = Journal.record

        def timed_record(journal, kind, key, payload):
            written = record(journal, kind, key, payload)
            if kind in marks:
                marks[kind].setdefault(int(str(key).split(".")[0]), time.perf_counter())
            return written

        Journal.record = timed_record
        session = PaperSession("BTCUSDT", "1h", state=Path(work) / "state",
                               bars=args.live_bars, base_url=fake.rest_url,
                               stream_url=fake.stream_url, data_dir=Path(work) / "data",
                               stream_factory=stream_factory, threshold=0.0, **REFERENCE)
        began = time.perf_counter()
        result = session.run()
        spent = time.perf_counter() - began
    stream = streams[0]
    handed = sorted(stream.handed.items())
    fits = {when.isoformat() for when in
            (fit["window_end"] for fit in result.strategy.training_history)}
    rows = {"normal": {"order": [], "forecast": [], "bar": []},
            "retrain": {"order": [], "forecast": [], "bar": []}}
    asked = iter(stream.asked)
    for open_ms, at in handed:
        kind = "retrain" if _iso(open_ms) in fits else "normal"
        next_ask = next((t for t in asked if t > at), None)  # none after the last bar
        if next_ask is not None:
            rows[kind]["bar"].append(next_ask - at)
        for mark in ("order", "forecast"):
            if open_ms in marks[mark]:
                rows[kind][mark].append(marks[mark][open_ms] - at)
    print(f"{result.live_bars} live bars, {len(fits)} fits, {spent:.1f} s in all")
    for kind, found in rows.items():
        for mark, label in (("order", "to the order"), ("forecast", "to the forecast"),
                            ("bar", "whole bar")):
            print(f"{kind:8} {label:17} {_summary(found[mark])}")


def _iso(open_ms):
    from lstm_bt.data.dates import from_ms

    return from_ms(open_ms).isoformat()


def _summary(values):
    if not values:
        return "n 0"
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return (f"n {len(values):3}  median {_ms(statistics.median(values))}  p95 {_ms(p95)}  "
            f"max {_ms(values[-1])}")


def _ms(seconds):
    return f"{seconds * 1000:9.1f} ms" if seconds < 10 else f"{seconds:9.1f} s "


if __name__ == "__main__":
    main()
