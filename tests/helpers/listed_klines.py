"""A kline stream over a list, in-process: `ClosedKlines`' interface without a network.

For tests of what lies above the stream (the feed, the journal, the broker), where the
stream's own behaviour is not the subject; tests of parity across stream faults use the real
`ClosedKlines` against the fake Binance (`fake_binance.py`).
"""

import queue
from collections import namedtuple

import numpy as np

from lstm_bt.data.kline_frame import COLUMNS

Bar = namedtuple("Bar", COLUMNS)


def stream_bars(frame):
    """A kline frame as the stream hands its bars out: `(open_time_ms, bar)` pairs."""
    opens = frame.index.values.astype("datetime64[ms]").astype(np.int64).tolist()
    return [(open_ms, Bar(*bar)) for open_ms, bar in
            zip(opens, frame[list(COLUMNS)].itertuples(index=False))]


class ListedKlines:
    """Hands out `bars` opening after `after_ms`, in order, then nothing.

    Args:
        bars: `(open_time_ms, bar)` pairs (`stream_bars`).
        after_ms: bars opening at or before it are not handed out.
        repeat: hand every bar out twice (a stream that repeats closed bars).
        pauses: `get` calls that find nothing before each bar (a stream waiting for the
            next close).
        statuses: open time -> the status the stream turns to just before that bar (`get`
            then returns None once, as `ClosedKlines` does on a change).

    Attributes:
        status: `"live"` unless `statuses` says otherwise.
        closed: whether `close()` was called.
    """

    def __init__(self, bars, after_ms, repeat=False, pauses=0, statuses=None):
        self.status = "live"
        self.closed = False
        self._script = queue.Queue()
        for open_ms, bar in bars:
            if open_ms <= after_ms:
                continue
            if open_ms in (statuses or {}):
                self._script.put(statuses[open_ms])
            for _ in range(pauses):
                self._script.put(None)
            for _ in range(2 if repeat else 1):
                self._script.put((open_ms, bar))

    @classmethod
    def factory(cls, bars, made=None, **options):
        """A `stream_factory` for `BinanceStore`; each stream made is appended to `made`."""
        def make(symbol, interval, *, after_ms, base_url=None, stream_url=None):
            stream = cls(bars, after_ms, **options)
            if made is not None:
                made.append(stream)
            return stream

        return make

    def start(self):
        return self

    def get(self, timeout=None):
        try:
            item = self._script.get(timeout=timeout)
        except queue.Empty:
            return None  # no bar left
        if isinstance(item, str):
            self.status = item
            return None
        return item

    def close(self):
        self.closed = True
